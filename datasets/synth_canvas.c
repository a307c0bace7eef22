/* synth_canvas: coverage-blended boxes, ellipses, glows and lines. */
#include "synth_canvas.h"

#include <math.h>
#include <stddef.h>

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static inline void blend(Canvas *cv, int x, int y, const float rgb[3], float a) {
    if (a <= 0.0f) return;
    if (a > 1.0f) a = 1.0f;
    float *p = cv->px + ((size_t)y * (size_t)cv->size + (size_t)x) * 3;
    for (int c = 0; c < 3; c++) p[c] += (rgb[c] - p[c]) * a;
}

/* Pixel range [*i0, *i1) touched by the span [lo, hi] in pixel units. */
static int span(const Canvas *cv, float lo, float hi, int *i0, int *i1) {
    if (!(hi > lo)) return 0; /* also rejects NaN */
    float l = floorf(lo), h = ceilf(hi);
    if (h <= 0.0f || l >= (float)cv->size) return 0;
    *i0 = l < 0.0f ? 0 : (int)l;
    *i1 = h > (float)cv->size ? cv->size : (int)h;
    return *i1 > *i0;
}

void canvas_rect(Canvas *cv, float x0, float y0, float x1, float y1, const float rgb[3],
                 float alpha) {
    float s = (float)cv->size;
    float a0 = x0 * s, a1 = x1 * s, b0 = y0 * s, b1 = y1 * s;
    int i0, i1, j0, j1;
    if (!span(cv, a0, a1, &i0, &i1) || !span(cv, b0, b1, &j0, &j1)) return;
    for (int y = j0; y < j1; y++) {
        float cy = fminf(b1, (float)y + 1) - fmaxf(b0, (float)y);
        for (int x = i0; x < i1; x++) {
            float cx = fminf(a1, (float)x + 1) - fmaxf(a0, (float)x);
            blend(cv, x, y, rgb, alpha * clampf(cx, 0, 1) * clampf(cy, 0, 1));
        }
    }
}

void canvas_ellipse(Canvas *cv, float cx, float cy, float rx, float ry, const float rgb[3],
                    float alpha) {
    float s = (float)cv->size;
    float px = cx * s, py = cy * s, ax = rx * s, ay = ry * s;
    if (!(ax > 0.0f) || !(ay > 0.0f)) return;
    int i0, i1, j0, j1;
    if (!span(cv, px - ax - 1, px + ax + 1, &i0, &i1) ||
        !span(cv, py - ay - 1, py + ay + 1, &j0, &j1))
        return;
    float rmin = fminf(ax, ay);
    for (int y = j0; y < j1; y++) {
        float dy = ((float)y + 0.5f - py) / ay;
        for (int x = i0; x < i1; x++) {
            float dx = ((float)x + 0.5f - px) / ax;
            float q = sqrtf(dx * dx + dy * dy);
            float sd = (q - 1.0f) * rmin; /* approximate signed distance in pixels */
            blend(cv, x, y, rgb, alpha * clampf(0.5f - sd, 0, 1));
        }
    }
}

void canvas_glow(Canvas *cv, float cx, float cy, float r, const float rgb[3], float alpha) {
    float s = (float)cv->size;
    float px = cx * s, py = cy * s, pr = r * s;
    if (!(pr > 0.0f)) return;
    int i0, i1, j0, j1;
    if (!span(cv, px - pr, px + pr, &i0, &i1) || !span(cv, py - pr, py + pr, &j0, &j1)) return;
    for (int y = j0; y < j1; y++)
        for (int x = i0; x < i1; x++) {
            float dx = ((float)x + 0.5f - px) / pr, dy = ((float)y + 0.5f - py) / pr;
            float q = 1.0f - (dx * dx + dy * dy);
            if (q > 0.0f) blend(cv, x, y, rgb, alpha * q * q);
        }
}

void canvas_line(Canvas *cv, float x0, float y0, float x1, float y1, float width,
                 const float rgb[3], float alpha) {
    float s = (float)cv->size;
    float ax = x0 * s, ay = y0 * s, bx = x1 * s, by = y1 * s, hw = 0.5f * width * s;
    int i0, i1, j0, j1;
    if (!span(cv, fminf(ax, bx) - hw - 1, fmaxf(ax, bx) + hw + 1, &i0, &i1) ||
        !span(cv, fminf(ay, by) - hw - 1, fmaxf(ay, by) + hw + 1, &j0, &j1))
        return;
    float ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey;
    for (int y = j0; y < j1; y++)
        for (int x = i0; x < i1; x++) {
            float qx = (float)x + 0.5f - ax, qy = (float)y + 0.5f - ay;
            float t = len2 > 0.0f ? clampf((qx * ex + qy * ey) / len2, 0, 1) : 0.0f;
            float dx = qx - t * ex, dy = qy - t * ey;
            float d = sqrtf(dx * dx + dy * dy);
            blend(cv, x, y, rgb, alpha * clampf(hw + 0.5f - d, 0, 1));
        }
}

void canvas_shade(Canvas *cv, float x0, float y0, float x1, float y1, float k) {
    float s = (float)cv->size;
    int i0, i1, j0, j1;
    if (!span(cv, x0 * s, x1 * s, &i0, &i1) || !span(cv, y0 * s, y1 * s, &j0, &j1)) return;
    for (int y = j0; y < j1; y++)
        for (int x = i0; x < i1; x++) {
            float *p = cv->px + ((size_t)y * (size_t)cv->size + (size_t)x) * 3;
            for (int c = 0; c < 3; c++) p[c] *= k;
        }
}
