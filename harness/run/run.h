/* run: the public face of the run wing — what later wings (report, cli) may
 * use of it: the runner that executes experiment matrices (runner.h), the
 * requeueing of failed cells (upkeep.h, for `vadbench retry`), the
 * evaluation's score names and metric keys (evaluate.h), the shortcut probe
 * of a data set (probe.h) and cluster submission to Slurm (slurm.h, with its
 * scripts and status). Training, checkpoints, the per-cell data, the
 * planning of cells and the lease heartbeat are the wing's own business
 * (train.h, checkpoint.h, rundata.h, plan.h, heartbeat.h). */
#ifndef VB_RUN_H
#define VB_RUN_H

#include "harness/run/evaluate.h"
#include "harness/run/probe.h"
#include "harness/run/runner.h"
#include "harness/run/slurm.h"
#include "harness/run/upkeep.h"

#endif
