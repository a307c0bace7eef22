/* run: the public face of the run wing — what later wings (report, cli) may
 * use of it: the runner that executes experiment matrices (runner.h), the
 * evaluation's score names and metric keys (evaluate.h), the shortcut
 * probe of a data set (probe.h) and cluster submission to Slurm (slurm.h,
 * with its scripts and status). Training, checkpoints, the per-cell data and
 * the planning of cells are the wing's own business (train.h, checkpoint.h,
 * rundata.h, plan.h). */
#ifndef VB_RUN_H
#define VB_RUN_H

#include "harness/run/evaluate.h"
#include "harness/run/probe.h"
#include "harness/run/runner.h"
#include "harness/run/slurm.h"

#endif
