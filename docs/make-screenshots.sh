#!/usr/bin/env bash
# Regenerates the screenshots of docs/USER_GUIDE.md and README.md from the real app, offscreen.
#
#   docs/make-screenshots.sh [MODEL_DIR]
#
# Run from the repository root after building (cmake --build --preset release --target sida-studio).
# Without MODEL_DIR the app opens the bundled demo model (resources/models/sst2-switch), so a retrained
# demo model only needs this script run again. Each shot starts the app with default settings in a
# scratch settings file (the user's own settings are neither read nor changed), loads the model,
# classifies the bundled sample sentences and a stream of the labelled samples, runs what the view
# needs (the sparsity lesson, a policy comparison) and saves the window.
#
# Environment: SIDA_STUDIO (the binary, default build/release/bin/sida-studio), SCREENSHOT_SIZE (the
# window size, default 1400x900), SCREENSHOT_THEME (system, light or dark; default light).
set -euo pipefail

if [[ ! -f README.md || ! -d docs ]]; then
    echo "make-screenshots.sh: run it from the repository root" >&2
    exit 2
fi

studio=${SIDA_STUDIO:-build/release/bin/sida-studio}
size=${SCREENSHOT_SIZE:-1400x900}
theme=${SCREENSHOT_THEME:-light}
out=docs/screenshots
model_args=()
if [[ $# -ge 1 ]]; then model_args=(--model "$1"); fi

if [[ ! -x $studio ]]; then
    echo "make-screenshots.sh: $studio not found; build it first:" >&2
    echo "  cmake --build --preset release --target sida-studio" >&2
    exit 2
fi
export QT_QPA_PLATFORM=offscreen

# The app's own list of views, from its answer to an unknown one ("... (use model, hash-table, ...)"),
# so that a new view gets its screenshot without editing this script.
views=$("$studio" --view '?' 2>&1 | sed -n 's/.*(use \(.*\))$/\1/p' | tr -d ' ' | tr ',' ' ' || true)
if [[ -z $views ]]; then
    echo "make-screenshots.sh: could not read the list of views from $studio" >&2
    exit 1
fi

# The serving settings of each shot. The app starts on the Standard policy (every expert resident,
# the routers decide); the views that show the predictor at work (its hash table, the misses, the pool
# filling and emptying) are taken under SiDA with a quarter of the experts' memory, and the comparison
# (which runs its own policies) with the same budget, so that the policies differ in memory too. The
# views of the memory tiers also get a host cache of half the experts, so that some wait on disk.
settings_for() {
    case $1 in
    experts | memory) echo "--policy sida --budget 25% --host-budget 50%" ;;
    hash-table | throughput | predictor) echo "--policy sida --budget 25%" ;;
    compare) echo "--budget 25%" ;;
    *) echo "" ;;
    esac
}

shoot() { # shoot FILE VIEW [OPTIONS...]
    local file=$1 view=$2
    shift 2
    echo "== $file (view $view${*:+, $*})"
    "$studio" --screenshot "$file" --view "$view" --size "$size" --theme "$theme" \
        ${model_args[@]+"${model_args[@]}"} "$@"
}

mkdir -p "$out"
# The main window as a user first sees it: the default settings and the default view (the hash
# table), after classifying the sample sentences.
shoot "$out/main.png" hash-table
for view in $views; do
    # shellcheck disable=SC2046 # the settings are words on purpose
    shoot "$out/$view.png" "$view" $(settings_for "$view")
done

ls -l "$out"/*.png
