# Sourced by build.sh, seed.sh and start.sh: which generated app the
# contender serves. Default: the whole example, examples/taskboard. Variant
# word `workload` (bench/rookery:workload, combines as workload-redis):
# examples/saasbench, the workload's projects and nothing more (an owner,
# audited creates; no search, status, budget, quota or events).
APP=taskboard
for word in $(printf '%s' "${VARIANT:-}" | tr '-' ' '); do
  [ "$word" = workload ] && APP=saasbench
done
