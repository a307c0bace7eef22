/* schedule: OneCycle, cosine with warm-up, constant, and the SWA switch. */
#include "schedule.h"

#include <math.h>
#include <stddef.h>

const char *const sched_kind_names[] = {"onecycle", "cosine", "constant", "step", NULL};

static double cos_anneal(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (1.0 + cos(M_PI * pct));
}

/* PyTorch OneCycleLR phase arithmetic (three_phase=False). */
static double onecycle(const Schedule *s, int64_t step, double start_v, double mid_v,
                       double end_v) {
    double end1 = s->pct * (double)s->total - 1.0, end2 = (double)s->total - 1.0;
    double st = (double)step;
    if (st <= end1) return cos_anneal(start_v, mid_v, end1 > 0 ? st / end1 : 1.0);
    double pct = end2 > end1 ? (st - end1) / (end2 - end1) : 1.0;
    return cos_anneal(mid_v, end_v, pct > 1 ? 1 : pct);
}

static double main_lr(const Schedule *s, int64_t step) {
    switch (s->kind) {
    case SCHED_ONECYCLE: {
        double init = s->max_lr / s->div;
        return onecycle(s, step, init, s->max_lr, init / s->final_div);
    }
    case SCHED_COSINE: {
        int64_t warm = (int64_t)(s->pct * (double)s->total);
        if (step < warm) return s->max_lr * (double)(step + 1) / (double)warm;
        int64_t rest = s->total - warm;
        double pct = rest > 1 ? (double)(step - warm) / (double)(rest - 1) : 1.0;
        return cos_anneal(s->max_lr, 0.0, pct > 1 ? 1 : pct);
    }
    case SCHED_CONSTANT: return s->max_lr;
    case SCHED_STEP: {
        int64_t epoch = s->steps_per_epoch > 0 ? step / s->steps_per_epoch : 0;
        double lr = s->max_lr;
        for (int i = 0; i < s->nmilestones; i++)
            if (epoch >= s->milestones[i]) lr *= s->gamma;
        return lr;
    }
    }
    return s->max_lr;
}

double schedule_lr(const Schedule *s, int64_t step) {
    if (s->swa_start >= 0 && step >= s->swa_start) {
        double from = main_lr(s, s->swa_start > 0 ? s->swa_start - 1 : 0);
        if (s->swa_anneal <= 0) return s->swa_lr;
        double pct = (double)(step - s->swa_start + 1) / (double)s->swa_anneal;
        if (pct >= 1) return s->swa_lr;
        return cos_anneal(from, s->swa_lr, pct);
    }
    return main_lr(s, step);
}

double schedule_beta1(const Schedule *s, int64_t step) {
    if (s->kind != SCHED_ONECYCLE || !s->cycle_momentum) return -1;
    if (s->swa_start >= 0 && step >= s->swa_start) return s->max_m;
    return onecycle(s, step, s->max_m, s->base_m, s->max_m);
}
