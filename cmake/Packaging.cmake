# Install layout and packages: `cmake --install` or `cpack -G DEB|TGZ` in a build folder.
#
#   bin/sida, bin/sida-studio
#   lib/sida-studio/torch/                 the LibTorch runtime from the wheel (CPU part only)
#   share/sida-studio/models/sst2-switch/  the bundled demo model
#   share/applications, share/metainfo, share/icons/hicolor   desktop integration
#   share/doc/sida-studio/third-party/     licences of the bundled LibTorch and CUDA runtime
#
# The layout is relocatable: the binaries find their libraries through $ORIGIN and the demo model
# at ../share/sida-studio/models relative to themselves (engine/src/model/model.cpp), so the .deb
# (prefix /usr) and the .tar.gz (any folder) hold the same tree.
include_guard(GLOBAL)

set(SIDA_APP_ID "io.github.sida_studio.SidaStudio")
# A private folder, not CMAKE_INSTALL_LIBDIR: that one becomes lib/<multiarch> under /usr only,
# and the RPATH below must name the same place whatever the prefix.
set(SIDA_INSTALL_TORCHDIR "lib/sida-studio/torch")

# --- Programs -------------------------------------------------------------------------------------
set(_sida_programs sida)
if(TARGET sida-studio)
  list(APPEND _sida_programs sida-studio)
endif()
# The build tree runs against the wheel in the virtual environment; the installed tree must not.
set_target_properties(${_sida_programs} PROPERTIES
  INSTALL_RPATH "$ORIGIN/../${SIDA_INSTALL_TORCHDIR}")
install(TARGETS ${_sida_programs}
  RUNTIME_DEPENDENCY_SET sida_torch_runtime
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- LibTorch runtime -----------------------------------------------------------------------------
# Whatever the programs load from the wheel, found by following NEEDED entries at install time:
# libtorch_cpu.so, libc10.so, and what libtorch_cpu.so itself needs from the wheel (libgomp, and
# the small CUDA runtime and CUPTI libraries it is linked against even when no GPU is used). Qt,
# SentencePiece and the C/C++ runtimes come from Debian, so the .deb depends on them instead
# (dpkg-shlibdeps below). libtorch_cuda.so, which the engine dlopens for a GPU, is not NEEDED and
# so not bundled: the CPU package then runs on the CPU (see README, "Install as a package").
install(RUNTIME_DEPENDENCY_SET sida_torch_runtime
  POST_INCLUDE_REGEXES "/site-packages/(torch|nvidia)/"
  POST_EXCLUDE_REGEXES ".*"
  DESTINATION ${SIDA_INSTALL_TORCHDIR})

# Binary redistribution of LibTorch (BSD-3-Clause) and NVIDIA's runtime must carry their notices.
set(_sida_site "${SIDA_TORCH_ROOT}/..")
file(GLOB _sida_third_party_licences
  "${_sida_site}/torch-${SIDA_TORCH_VERSION}*.dist-info/licenses/*"
  "${_sida_site}/nvidia_cuda_runtime-*.dist-info/licenses/License.txt")
foreach(_file IN LISTS _sida_third_party_licences)
  # torch-...dist-info/licenses/LICENSE -> torch-LICENSE, nvidia_cuda_runtime-... -> nvidia-License.txt
  string(REGEX MATCH "(torch|nvidia)[^/]*/licenses/[^/]+$" _rel "${_file}")
  string(REGEX REPLACE "^(torch|nvidia)[^/]*/licenses/" "\\1-" _name "${_rel}")
  install(FILES "${_file}" RENAME "${_name}"
    DESTINATION "${CMAKE_INSTALL_DATADIR}/doc/sida-studio/third-party")
endforeach()

# --- Demo model -----------------------------------------------------------------------------------
install(DIRECTORY "${SIDA_DEFAULT_MODEL_SOURCE}/"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/sida-studio/models/sst2-switch")

# --- Desktop integration --------------------------------------------------------------------------
if(TARGET sida-studio)
  install(FILES "${PROJECT_SOURCE_DIR}/installer/sida-studio.desktop"
    DESTINATION "${CMAKE_INSTALL_DATADIR}/applications")
  install(FILES "${PROJECT_SOURCE_DIR}/installer/${SIDA_APP_ID}.metainfo.xml"
    DESTINATION "${CMAKE_INSTALL_DATADIR}/metainfo")

  set(_sida_icon "${PROJECT_SOURCE_DIR}/resources/icons/sida-studio.svg")
  install(FILES "${_sida_icon}" DESTINATION "${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps")
  # Menus and docks that do not scale SVG want PNGs. They are rendered here, at configure time,
  # so that neither the build nor cpack needs an extra target; editing the SVG reconfigures.
  find_program(SIDA_RSVG_CONVERT rsvg-convert)
  if(SIDA_RSVG_CONVERT)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_sida_icon}")
    foreach(_size 48 128 256)
      set(_png "${PROJECT_BINARY_DIR}/icons/${_size}x${_size}/sida-studio.png")
      file(MAKE_DIRECTORY "${PROJECT_BINARY_DIR}/icons/${_size}x${_size}")
      execute_process(
        COMMAND "${SIDA_RSVG_CONVERT}" -w ${_size} -h ${_size} -o "${_png}" "${_sida_icon}"
        RESULT_VARIABLE _rc)
      if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "rsvg-convert could not render ${_sida_icon} at ${_size} px")
      endif()
      install(FILES "${_png}" DESTINATION "${CMAKE_INSTALL_DATADIR}/icons/hicolor/${_size}x${_size}/apps")
    endforeach()
  else()
    message(WARNING "rsvg-convert not found (Debian: librsvg2-bin): the package gets only the SVG icon")
  endif()
endif()

# --- Packages -------------------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME "sida-studio")
set(CPACK_PACKAGE_VENDOR "SiDA Studio")
set(CPACK_PACKAGE_CONTACT "SiDA Studio developers <${PROJECT_HOMEPAGE_URL}/issues>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION "SiDA Studio runs and explains Mixture-of-Experts text classifiers \
(Switch Transformers) the way the SiDA-MoE paper serves them: a trained predictor decides ahead of \
inference which experts each batch uses. This package holds the desktop app (sida-studio), the \
command line (sida), a demo sentiment model and the CPU part of LibTorch; it runs on the CPU.")
set(CPACK_PACKAGE_HOMEPAGE_URL "${PROJECT_HOMEPAGE_URL}")
set(CPACK_GENERATOR "DEB;TGZ")
# Installing a target strips its debug info (the release build is RelWithDebInfo: sida is ~100 MB
# before, a few MB after). The bundled LibTorch is installed as the wheel ships it.
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 0) # xz on every core: LibTorch is most of the package

# Debian: the prefix is /usr (CPack's default for DEB); dependencies on Debian's Qt, SentencePiece
# and C++ runtime come from dpkg-shlibdeps, which must be told where the bundled LibTorch lies
# (a folder inside the package, relative to its root) so that it does not look for a Debian package
# that provides libtorch_cpu.so.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "usr/${SIDA_INSTALL_TORCHDIR}")
# Qt loads these plugins at run time, so no NEEDED entry names them: the platform plugins (xcb,
# wayland, offscreen) and the SVG icon engine that draws every icon in the app.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins, libqt6svg6")

include(CPack)
