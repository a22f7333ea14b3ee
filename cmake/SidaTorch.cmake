# Finds LibTorch inside the PyPI `torch` wheel that installer/bootstrap.sh installs, and defines
# the imported target Sida::Torch.
#
# Why not find_package(Torch): the wheel's TorchConfig wants a matching CUDA toolkit at configure
# time and links libtorch_cuda, whose NCCL symbols then resolve against whatever NCCL the linker
# finds first. SiDA links only the device-generic libraries (torch_cpu, c10) and loads
# libtorch_cuda.so at run time when a CUDA device is asked for (engine/src/device), so one binary
# runs on machines with and without NVIDIA's stack, and no CUDA toolkit is needed to build.
#
# Search order: -DSIDA_TORCH_ROOT=<.../site-packages/torch>, $SIDA_TORCH_ROOT, then the bootstrap's
# virtual environment for the pinned version.

file(READ "${PROJECT_SOURCE_DIR}/installer/torch-version.txt" SIDA_TORCH_VERSION)
string(STRIP "${SIDA_TORCH_VERSION}" SIDA_TORCH_VERSION)

if(NOT SIDA_TORCH_ROOT AND DEFINED ENV{SIDA_TORCH_ROOT})
  set(SIDA_TORCH_ROOT "$ENV{SIDA_TORCH_ROOT}")
endif()
if(NOT SIDA_TORCH_ROOT)
  if(DEFINED ENV{SIDA_DEPS_DIR})
    set(_deps "$ENV{SIDA_DEPS_DIR}")
  elseif(DEFINED ENV{XDG_DATA_HOME})
    set(_deps "$ENV{XDG_DATA_HOME}/sida-studio")
  else()
    set(_deps "$ENV{HOME}/.local/share/sida-studio")
  endif()
  file(GLOB _candidates "${_deps}/venv-torch-${SIDA_TORCH_VERSION}/lib/python3*/site-packages/torch")
  list(GET _candidates 0 SIDA_TORCH_ROOT)
endif()
set(SIDA_TORCH_ROOT "${SIDA_TORCH_ROOT}" CACHE PATH "The torch package directory of the PyPI wheel")

find_library(SIDA_TORCH_CPU_LIB torch_cpu PATHS "${SIDA_TORCH_ROOT}/lib" NO_DEFAULT_PATH)
find_library(SIDA_C10_LIB c10 PATHS "${SIDA_TORCH_ROOT}/lib" NO_DEFAULT_PATH)
if(NOT SIDA_TORCH_CPU_LIB OR NOT SIDA_C10_LIB OR NOT EXISTS "${SIDA_TORCH_ROOT}/include/ATen/ATen.h")
  message(FATAL_ERROR
    "LibTorch ${SIDA_TORCH_VERSION} not found (looked in '${SIDA_TORCH_ROOT}'). "
    "Run installer/bootstrap.sh, or pass -DSIDA_TORCH_ROOT=<site-packages/torch>.")
endif()

add_library(Sida::Torch INTERFACE IMPORTED)
target_include_directories(Sida::Torch SYSTEM INTERFACE
  "${SIDA_TORCH_ROOT}/include"
  "${SIDA_TORCH_ROOT}/include/torch/csrc/api/include")
target_link_libraries(Sida::Torch INTERFACE "${SIDA_TORCH_CPU_LIB}" "${SIDA_C10_LIB}" ${CMAKE_DL_LIBS})
# The wheel is built with the C++11 ABI; say so instead of relying on the compiler default.
target_compile_definitions(Sida::Torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1)
set(SIDA_TORCH_LIB_DIR "${SIDA_TORCH_ROOT}/lib")
message(STATUS "SiDA: LibTorch ${SIDA_TORCH_VERSION} from ${SIDA_TORCH_ROOT}")
