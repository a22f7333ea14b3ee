#!/usr/bin/env bash
# Builds the packages from the release build and checks them end to end on this machine:
#   1. cpack -G DEB and TGZ in build/release (after bringing sida and sida-studio up to date);
#   2. the .tar.gz is relocatable: its sida, unpacked anywhere, finds its own LibTorch and model;
#   3. dpkg -i the .deb (apt-get -f install for missing dependencies);
#   4. from the installed paths: sida --version, sida classify with the installed default model
#      (no model argument), sida-studio --screenshot --view model offscreen, the desktop entry and
#      the AppStream metainfo validate, and nothing is loaded from the build's virtual environment;
#   5. dpkg -r then dpkg --purge, and nothing the package installed is left on disk.
# Run as root (it installs and removes the package; CI does). Exits nonzero at the first failure.
#
#   installer/test-package.sh        (needs cmake --preset release already configured)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=build/release
out=$build/packages
pkg=sida-studio

step() { echo "test-package: $*"; }
fail() { echo "test-package: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "must run as root: it installs and removes the .deb with dpkg"
[ -f "$build/CPackConfig.cmake" ] || fail "$build is not configured (run: cmake --preset release)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- 1. Packages ---------------------------------------------------------------------------------
step "building sida and sida-studio (a no-op when they are up to date)"
cmake --build --preset release --target sida sida-studio
rm -rf "$out"
step "cpack -G DEB and TGZ into $out"
(cd "$build" && cpack -G "DEB;TGZ" -B "$PWD/packages") > "$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log" >&2; fail "cpack failed (log above)"; }
rm -rf "$out/_CPack_Packages" # cpack's staging copy: another half gigabyte
debs=("$out"/${pkg}_*.deb)
tgzs=("$out"/${pkg}-*.tar.gz)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb in $out, found: ${debs[*]}"
[ ${#tgzs[@]} -eq 1 ] && [ -f "${tgzs[0]}" ] || fail "expected one .tar.gz in $out, found: ${tgzs[*]}"
deb=${debs[0]}
tgz=${tgzs[0]}
step "$(du -h "$deb" | cut -f1) $deb (installed: $(dpkg-deb -f "$deb" Installed-Size) KiB)"
step "$(du -h "$tgz" | cut -f1) $tgz"
step "Depends: $(dpkg-deb -f "$deb" Depends)"
for dep in libqt6widgets6 qt6-qpa-plugins libqt6svg6; do
  dpkg-deb -f "$deb" Depends | grep -q "\<$dep\>" || fail "the .deb does not depend on $dep"
done
dpkg-deb -f "$deb" Depends | grep -qi torch && fail "the .deb depends on a torch package instead of bundling LibTorch"

# --- 2. The archive is relocatable ----------------------------------------------------------------
step "unpacking the .tar.gz into a scratch folder"
tar -xzf "$tgz" -C "$scratch"
root=$(find "$scratch" -mindepth 1 -maxdepth 1 -type d -name "${pkg}-*")
[ -x "$root/bin/sida" ] || fail "the .tar.gz has no bin/sida"
env -u SIDA_DEFAULT_MODEL -u LD_LIBRARY_PATH "$root/bin/sida" info > "$scratch/tgz-info.txt" ||
  fail "sida from the unpacked .tar.gz does not run"
grep -qx "model *$root/share/sida-studio/models/sst2-switch" "$scratch/tgz-info.txt" ||
  fail "sida from the .tar.gz did not open its own demo model: $(head -1 "$scratch/tgz-info.txt")"
rm -rf "$root"

# --- 3. Install -----------------------------------------------------------------------------------
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed\|config-files"; then
  step "purging the $pkg package already on this machine"
  dpkg --purge "$pkg"
fi
step "dpkg -i $deb"
if ! dpkg -i "$deb"; then
  step "installing missing dependencies (apt-get -f install)"
  DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq || fail "apt-get -f install could not satisfy the .deb's dependencies"
fi
dpkg-query -W -f='${Status}' "$pkg" | grep -q "install ok installed" || fail "$pkg is not installed after dpkg -i"
dpkg -L "$pkg" > "$scratch/files.txt"

# --- 4. Run from the installed paths --------------------------------------------------------------
# The installed programs alone: no model override, no library path, not the build tree.
run() { env -u SIDA_DEFAULT_MODEL -u LD_LIBRARY_PATH "$@"; }
model=/usr/share/sida-studio/models/sst2-switch
for exe in /usr/bin/sida /usr/bin/sida-studio; do
  [ -x "$exe" ] || fail "$exe is missing"
  readelf -d "$exe" | grep -q 'R.*PATH.*\[\$ORIGIN/../lib/sida-studio/torch\]' ||
    fail "$exe has no RPATH \$ORIGIN/../lib/sida-studio/torch: $(readelf -d "$exe" | grep PATH)"
  ldd "$exe" > "$scratch/ldd.txt"
  grep -q "not found" "$scratch/ldd.txt" && fail "$exe has unresolved libraries: $(grep "not found" "$scratch/ldd.txt")"
  grep -q "site-packages\|$PWD" "$scratch/ldd.txt" && fail "$exe loads libraries from outside the package: $(grep "site-packages\|$PWD" "$scratch/ldd.txt")"
  grep -q "libtorch_cpu.so => /usr/\(bin/\.\./\)\?lib/sida-studio/torch/libtorch_cpu.so" "$scratch/ldd.txt" ||
    fail "$exe does not load the bundled libtorch_cpu.so: $(grep libtorch_cpu "$scratch/ldd.txt")"
done

step "sida --version"
run /usr/bin/sida --version || fail "sida --version failed"

step "sida info (the default model must be the installed one)"
run /usr/bin/sida info > "$scratch/info.txt" || fail "sida info failed"
grep -qx "model *$model" "$scratch/info.txt" ||
  fail "sida did not open the installed demo model $model: $(head -1 "$scratch/info.txt")"

step "sida classify \"a gripping, funny film\""
run /usr/bin/sida classify "a gripping, funny film" > "$scratch/classify.txt" || fail "sida classify failed"
cat "$scratch/classify.txt"
grep -q "^positive" "$scratch/classify.txt" || fail "the demo model did not call \"a gripping, funny film\" positive"

step "sida-studio --screenshot --view model (offscreen)"
shot=$scratch/model.png
QT_QPA_PLATFORM=offscreen run /usr/bin/sida-studio --screenshot "$shot" --view model ||
  fail "sida-studio --screenshot failed"
[ -s "$shot" ] || fail "sida-studio wrote no screenshot at $shot"
file "$shot" | grep -q "PNG image data" || fail "$shot is not a PNG: $(file "$shot")"

step "desktop entry, metainfo and icons"
desktop-file-validate /usr/share/applications/sida-studio.desktop || fail "the installed desktop entry does not validate"
appstreamcli validate --no-net /usr/share/metainfo/io.github.sida_studio.SidaStudio.metainfo.xml ||
  fail "the installed metainfo does not validate"
for icon in scalable/apps/sida-studio.svg 48x48/apps/sida-studio.png 128x128/apps/sida-studio.png \
            256x256/apps/sida-studio.png; do
  [ -s "/usr/share/icons/hicolor/$icon" ] || fail "icon $icon is missing"
done

# --- 5. Remove, purge, nothing left ---------------------------------------------------------------
step "dpkg -r $pkg"
dpkg -r "$pkg" || fail "dpkg -r failed"
# The package has no conffiles, so dpkg -r normally leaves nothing for --purge to do.
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "config-files"; then
  step "dpkg --purge $pkg"
  dpkg --purge "$pkg" || fail "dpkg --purge failed"
fi
dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed\|config-files" &&
  fail "$pkg is still known to dpkg after --purge"
left=()
while IFS= read -r path; do
  [ -e "$path" ] || [ -L "$path" ] || continue
  if [ -d "$path" ] && [ ! -L "$path" ]; then
    # A folder may stay if another package owns it or holds files in it (/usr/bin, icons/hicolor).
    dpkg-query -S "$path" > /dev/null 2>&1 && continue
    [ -n "$(ls -A "$path")" ] && continue
  fi
  left+=("$path")
done < "$scratch/files.txt"
[ ${#left[@]} -eq 0 ] || fail "left on disk after --purge: ${left[*]}"

step "OK: $(basename "$deb") and $(basename "$tgz") install, run and uninstall cleanly"
