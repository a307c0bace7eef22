/* synth_canvas: anti-aliased drawing primitives for the synthetic video
 * generator, on a float RGB canvas (values in [0,1], H x W x 3, row-major).
 *
 * Coordinates are in units of the frame side: (0,0) is the top-left corner,
 * (1,1) the bottom-right of a square frame, so one scene description renders
 * at any size. Shapes are blended over the canvas with coverage-based
 * anti-aliasing (pixel centres at (i+0.5)/size). Everything is clipped to the
 * canvas; any coordinates, also off-canvas or degenerate, are safe.
 *
 * Must not be asked to: allocate (the caller owns the pixels) or draw on
 * canvases whose width and height differ from `size` (one scale for both). */
#ifndef VB_SYNTH_CANVAS_H
#define VB_SYNTH_CANVAS_H

typedef struct Canvas {
    int size;  /* width = height in pixels */
    float *px; /* size * size * 3 */
} Canvas;

/* Axis-aligned box [x0,x1] x [y0,y1] with exact area coverage. */
void canvas_rect(Canvas *cv, float x0, float y0, float x1, float y1, const float rgb[3],
                 float alpha);
/* Axis-aligned ellipse centred at (cx,cy) with radii (rx,ry). */
void canvas_ellipse(Canvas *cv, float cx, float cy, float rx, float ry, const float rgb[3],
                    float alpha);
/* Soft radial glow: alpha * (1 - (d/r)^2)^2 inside radius r. */
void canvas_glow(Canvas *cv, float cx, float cy, float r, const float rgb[3], float alpha);
/* Segment from (x0,y0) to (x1,y1) of the given width. */
void canvas_line(Canvas *cv, float x0, float y0, float x1, float y1, float width,
                 const float rgb[3], float alpha);
/* Multiply the colours inside a box by `k` (shadows, dark doorways). */
void canvas_shade(Canvas *cv, float x0, float y0, float x1, float y1, float k);

#endif
