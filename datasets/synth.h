/* synth: the deterministic synthetic surveillance-video generator.
 *
 * Short videos of a fixed camera scene (brick wall with a door and windows,
 * pavement, a road, sometimes a fruit stall, a bag or passing traffic) with
 * people walking along paths, in the 14 classes of UCF-Crime. People are
 * about a quarter of the frame tall (9-20 px at 64 px), with legs, arms and
 * poses (walking, running, crouching, arms raised, lying), so that what
 * they do shows. NormalVideos is ordinary walking: 0-2 passers-by at a
 * steady pace, nobody runs, falls, takes or damages anything. Every anomaly
 * class adds its own visual and temporal signature; it starts within the
 * first eighth of the video and lasts, in phases, to its end, so that any
 * clip of a few frames shows part of it (scripts in synth_events.c):
 *   Abuse         a small victim lies on the ground all along; an attacker
 *                 stands over it raising a stick, striking (bent down) and
 *                 kicking in turn, now and then stepping round it
 *   Arrest        a police car with a red/blue light bar flashing in a
 *                 3-frame cycle; a dark-uniformed officer walks a suspect
 *                 with his hands behind his back to it, the suspect gets in
 *   Arson         a figure crouches at the wall, a fire flares up and grows
 *                 (flickering orange, smoke, a spreading scorch); the figure
 *                 runs off
 *   Assault       two people walk head-on, one punches, the victim falls and
 *                 lies there while the attacker runs off
 *   Burglary      night (low gain); a dark figure works a door open by a
 *                 flickering torch and slips inside
 *   Explosion     a bright flash expanding over three frames, camera shake,
 *                 flying debris, then a rising smoke cloud over burning
 *                 wreckage; the crowd runs away
 *   Fighting      two figures face to face, swinging at each other, lurching
 *                 erratically and circling, two onlookers raising their arms
 *   RoadAccidents a fast car (motion streak) hits a pedestrian crossing the
 *                 road: skid marks and glass, the victim thrown and lying,
 *                 the car stopped with blinking hazard lights and steam
 *   Robbery       a runner catches up with a walker carrying a bag, holds a
 *                 knife on him (hands up), runs off with the bag; the victim
 *                 is left on his knees reaching after him
 *   Shooting      a still figure aiming, muzzle flashes and bright streaks,
 *                 the crowd runs away and one person falls
 *   Shoplifting   someone loiters at the fruit stall glancing around and
 *                 reaching in; three items vanish one by one, then walks off
 *   Stealing      an unattended bag: someone walks up, bends down, grabs it
 *                 and runs off with it
 *   Vandalism     a figure at the wall sprays thick strokes in two vivid
 *                 colours, jerking along it; a window gets smashed
 * Props of the signatures also appear in other classes' scenes (stalls,
 * bags, passing cars, old faded graffiti), so a prop alone proves nothing;
 * people and cars wear muted colours, so vivid light and paint belong to
 * events. Nuisance variation is shared by all classes: illumination level
 * and drift, colour tint, sensor noise, camera jitter, crowd density, scene
 * geometry and colours, clothing. Classes share elements without copying
 * each other (people run in Robbery, Stealing, Assault, Arson, Explosion and
 * Shooting; someone lies on the ground in Abuse, Assault, RoadAccidents and
 * Shooting; lights glow in Arrest, Burglary, RoadAccidents and the fire and
 * flash classes), so an unseen class still looks "not normal".
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
