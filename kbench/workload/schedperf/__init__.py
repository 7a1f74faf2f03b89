"""scheduler_perf's performance-config.yaml run in kbench (issue 17, Build 7): :mod:`.config` reads the
file, :mod:`.ops` and :mod:`.runner` run one workload, :mod:`.collector` computes SchedulingThroughput."""
