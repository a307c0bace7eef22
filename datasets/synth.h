/* synth: the deterministic synthetic surveillance-video generator.
 *
 * Short videos of a fixed camera scene (brick wall with a door and windows,
 * pavement, a road, sometimes a market stall, a bag or passing traffic)
 * with people walking along paths, in the 14 classes of UCF-Crime.
 * NormalVideos is ordinary walking; every anomaly class adds its own visual
 * and temporal signature, starting in the first quarter of the video
 * (scripts in synth_actors.c):
 *   Abuse         a small figure on the ground, struck again and again
 *   Arrest        a dark-uniformed officer reaches a suspect, both walk to a
 *                 police car whose light bar flashes red/blue
 *   Arson         a figure crouches at the wall and runs; an orange fire grows
 *                 and flickers, smoke rises, the wall scorches
 *   Assault       a head-on approach, one blow, the victim falls, the
 *                 attacker runs off
 *   Burglary      night (low gain); a figure works a door open, a torch
 *                 flickers, the figure slips inside
 *   Explosion     a bright flash expanding over three frames, debris, rising
 *                 smoke, camera shake, the crowd flees
 *   Fighting      two figures in contact, moving erratically
 *   RoadAccidents a fast car hits a crossing pedestrian and stops
 *   Robbery       one figure chases another, a short struggle, the chaser
 *                 runs off with the victim's bag
 *   Shooting      a still figure, muzzle flashes and bright streaks, the crowd
 *                 flees, one person falls
 *   Shoplifting   loitering at a market stall; one item vanishes
 *   Stealing      an unattended bag is picked up and carried off at a run
 *   Vandalism     jerky moves along the wall while spray strokes accumulate
 *                 and a window breaks
 * Stalls, bags, passing cars and old graffiti also appear in
 * other classes' scenes, so a prop alone proves nothing. Nuisance variation
 * is shared by all classes: illumination level and drift, colour tint,
 * sensor noise, camera jitter, crowd density, scene geometry and colours.
 *
 * Every value comes from the counter RNG (rng.h): a video's stream is keyed
 * by (seed, split, class, video number), so a video is a pure function of
 * those and of frames/size, whatever the thread count and however many
 * other videos are generated. Frames are uint8 RGB, size x size x 3.
 *
 * Layout of the generated Dataset: classes are the 14 UCF-Crime names
 * (sorted), normal class NormalVideos; per anomaly class videos_per_class
 * Train and test_videos_per_class Test videos (NormalVideos gets
 * normal_factor times as many, like UCF-Crime's majority of normal frames);
 * video ids "<Class><NNN>_x264" numbered 1.. across Train then Test, so ids
 * are unique over both splits.
 *
 * Must not be asked to: make sizes below 16 or above 512 pixels, or more
 * than 10000 frames per video (synth_check rejects them). */
#ifndef VB_SYNTH_H
#define VB_SYNTH_H

#include <stdint.h>

#include "datasets/dataset.h"

#define SYNTH_NCLASSES 14

typedef struct SynthConfig {
    int videos_per_class;      /* Train videos per anomaly class (default 8) */
    int test_videos_per_class; /* Test videos per anomaly class (default 4) */
    int normal_factor;         /* NormalVideos count multiplier (default 4) */
    int frames;                /* frames per video (default 16) */
    int size;                  /* frame side in pixels (default 64) */
    uint64_t seed;             /* default 0 */
} SynthConfig;

/* The 14 class names in sorted order; index 7 is NormalVideos. */
extern const char *const synth_class_names[SYNTH_NCLASSES];

void synth_defaults(SynthConfig *cfg);
/* Range checks with a message naming the field. */
VbStatus synth_check(const SynthConfig *cfg);
/* Number of videos of class `cls` in `split`. */
int synth_videos_in(const SynthConfig *cfg, int cls, DsSplit split);
/* Generate the whole data set in memory (OpenMP over videos). */
VbStatus synth_generate(const SynthConfig *cfg, Dataset *out);
/* Render one video (video number `index`, 0-based within its class and
 * split) into out[frames * size * size * 3]. */
void synth_render_video(const SynthConfig *cfg, int cls, DsSplit split, int index, uint8_t *out);

#endif
