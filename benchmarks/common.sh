# Set-up shared by the benchmark shell scripts (sourced, not run): work from the repository root, where
# xling, the data and the e5 checkpoint are, and build the checkpoint when it is missing.
#   XLING_SHARED  the shared folder (default ../shared)    XLING_E5  the checkpoint (default benchmarks/cache/e5-small)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
X=".venv/bin/xling"
SHARED=${XLING_SHARED:-../shared}
D=$SHARED/data
M=${XLING_E5:-benchmarks/cache/e5-small}
[ -f "$M/model.safetensors" ] || "$X" model download e5-small "$M"
step() { echo "$(date +%T) $*" >&2; }
