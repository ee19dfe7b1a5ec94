#!/usr/bin/env bash
# Everything that needs a GPU, in stages that each end well inside 10 minutes, with
# every log and JSON written to one folder. For a GPU machine that has PyTorch but
# not this package installed (the package is imported from src/).
#
#   bash benchmarks/gpu_session.sh tests qr     # CUDA + engine + ensemble tests, QR variants   (~4 min)
#   bash benchmarks/gpu_session.sh bench        # bench_lyapunov on the GPU  (~5 min)
#   bash benchmarks/gpu_session.sh cost         # estimate_cost on the GPU   (~3 min)
#   bash benchmarks/gpu_session.sh ensemble     # grouped training and batched spectra against one network at a time (~5 min)
#   bash benchmarks/gpu_session.sh lstm         # the LSTM step (materialised vs matrix-free vs reference) (~3 min)
#
# Output folder: $OUT if set, else ./gpu-results. DEVICE=cpu rehearses the commands
# on a machine without a GPU (the CUDA tests are then skipped).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-results}
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0

run() {  # run NAME SECONDS COMMAND...: log to $out/NAME.log, remember a failure, go on
    local name=$1 seconds=$2
    shift 2
    echo "== $name: $*"
    timeout "$seconds" "$@" 2>&1 | tee "$out/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$rc" -eq 0 ] || status=1
}

{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
    "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
    lscpu 2>/dev/null | grep -m1 "Model name"
} | tee "$out/machine.txt"

for stage in "${@:-tests}"; do
    case $stage in
    tests)
        run tests 300 "$python" -m pytest -q tests/lyapunov tests/test_ensemble.py tests/test_spectra.py
        ;;
    qr)
        run qr_variants 300 "$python" benchmarks/qr_variants.py --devices "$device" --json "$out/qr_variants.json"
        ;;
    bench)
        # Full spectra at T = 100 up to N = 512 (the < 1 s target for an N = 512 LSTM is read
        # off the benettin column), naive autograd up to N = 256.
        run bench 540 "$python" benchmarks/bench_lyapunov.py --devices "$device" --huge-steps 100 \
            --naive-max-size 256 --benettin-max-size 512 --json "$out/bench.json"
        ;;
    cost)
        # The configs are validated with jsonschema; a GPU image without it gets a wheel carried in.
        if ! "$python" -c "import jsonschema" 2>/dev/null; then
            echo "== cost: skipped, jsonschema is not importable (it validates the configs)" | tee "$out/cost.log"
            status=1
            continue
        fi
        run cost 300 "$python" benchmarks/estimate_cost.py config.yaml experiments/*.yaml \
            --device "$device" --json "$out/cost.json"
        ;;
    ensemble)
        # Networks per hour, one at a time vs one training group (network-wise and batched arithmetic), at the
        # default run's and paper-mini's sizes, at the workflow's group size and a GPU-sized one; then spectra of
        # 8 networks in one call vs 8 calls. The JSON grows row by row, so a timeout keeps what was measured.
        run ensemble_training 420 "$python" benchmarks/ensemble_training.py --device "$device" --threads 1 \
            --architectures rnn lstm gru --groups 12 64 --json "$out/ensemble_training.json"
        run ensemble_spectrum 180 "$python" benchmarks/ensemble_spectrum.py --device "$device" \
            --json "$out/ensemble_spectrum.json"
        ;;
    lstm)
        run lstm_step 240 "$python" benchmarks/lstm_step.py --json "$out/lstm_step.json"   # CPU: the 5x target is a CPU one
        ;;
    *)
        echo "unknown stage $stage (expected tests, qr, bench, cost, ensemble, lstm)" >&2
        status=2
        ;;
    esac
done
exit $status
