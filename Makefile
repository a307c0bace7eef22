# vadbench build. Targets: all (./vadbench), test, demo, bench, fixtures, format,
# format-check, layering, validate, validate-twin, fuzz (FUZZ_SECONDS=N,
# FUZZ_TARGETS="a b"), test-cuda, cuda-checks, device-bundle, test-slurm, clean.
# Switches: CUDA=auto|0|1, SAN=1, DEBUG=1, THREADS=N.
# Missing Debian packages are installed by harness/deps.sh (as root) before
# anything is compiled. The report templates (reports/templates/*) are built
# into the program: harness/report/embed_templates.sh turns them into a
# generated C source in the build directory, remade when a template changes
# (or one is added or removed), so editing a template and running `make`
# changes the next report with no C edit.

VERSION := 0.1.0
CUDA    ?= auto
SAN     ?= 0
DEBUG   ?= 0
BUILD   ?= build
CC      ?= gcc
PYTHON  ?= /usr/bin/python3
CUDA_HOME ?= /usr/local/cuda

# ---- CUDA detection (auto: nvcc and cudnn.h present) ----
NVCC := $(firstword $(wildcard $(CUDA_HOME)/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
HAVE_CUDNN := $(wildcard $(CUDA_HOME)/include/cudnn.h)
ifeq ($(CUDA),auto)
  USE_CUDA := $(if $(and $(NVCC),$(HAVE_CUDNN)),1,0)
else ifeq ($(CUDA),1)
  USE_CUDA := 1
  ifeq ($(NVCC),)
    $(error CUDA=1 but nvcc was not found under $(CUDA_HOME)/bin or on PATH)
  endif
  ifeq ($(HAVE_CUDNN),)
    $(error CUDA=1 but $(CUDA_HOME)/include/cudnn.h was not found)
  endif
else
  USE_CUDA := 0
endif

# ---- flags (package flags are expanded lazily, after deps.sh ran) ----
PKGS     := libarchive sqlite3 openblas libfyaml spng jansson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CRIT_LIBS  = $(shell pkg-config --libs criterion)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-format-truncation \
           -Wno-missing-field-initializers
CSTD    := -std=gnu11
# One build runs on any x86-64-v2 CPU. -ffp-contract=off everywhere: a*b+c is
# never fused behind the source's back, so every instruction-set path of the
# CPU backend computes the same bits (kernels/cpu/cpu_isa.h); no -ffast-math.
OPT     := $(if $(filter 1,$(DEBUG)),-O0 -g3,-O2 -g) -march=x86-64-v2 -ffp-contract=off
ifeq ($(SAN),1)
  SANFL := -fsanitize=address -fsanitize=undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
  SANFL :=
endif
DEFS    := -DVB_VERSION='"$(VERSION)"' $(if $(filter 1,$(USE_CUDA)),-DVB_HAVE_CUDA,)
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(SANFL) -fopenmp -MMD -MP $(DEFS) -I. $(PKG_CFLAGS)
# CUDA: Hopper (sm_90 machine code + compute_90 PTX for later GPUs) and
# Ampere (sm_80). -Werror all-warnings turns every nvcc warning into an
# error, deprecation warnings included (CUDNN_WARN_DEPRECATED makes cuDNN's
# deprecated symbols warn); the one exemption is the commented allowlist at
# the top of kernels/cuda/cu_dnn.cu, enforced by tests/cuda_checks.sh.
# --fmad=false: no FMA contraction, so the shared per-element math
# (kernels/kmath.h, kloss.h) rounds as on the CPU. The CUDA runtime is linked
# statically (the device machine's driver runs it); cuBLAS and cuDNN are
# shared libraries found through the rpath or LD_LIBRARY_PATH.
NVCC_ARCH  := -gencode arch=compute_90,code=[sm_90,compute_90] -gencode arch=compute_80,code=sm_80
NVCC_FLAGS := -O3 -std=c++17 -I. $(NVCC_ARCH) --fmad=false -Werror all-warnings \
              -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-Wno-format-truncation \
              -DCUDNN_WARN_DEPRECATED \
              $(DEFS)
ifeq ($(USE_CUDA),1)
  CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath=$(CUDA_HOME)/lib64 -lcudnn \
               -lcudart_static -ldl -lrt -lstdc++
else
  CUDA_LIBS :=
endif
LDLIBS_ALL = $(SANFL) -fopenmp $(PKG_LIBS) -lm -lpthread $(CUDA_LIBS)

# Build-variant directory, so SAN/DEBUG objects never mix with release ones.
VARIANT := $(BUILD)/$(if $(filter 1,$(SAN)),san,$(if $(filter 1,$(DEBUG)),debug,release))$(if $(filter 1,$(USE_CUDA)),-cuda,)

LIB_SRC  := $(wildcard kernels/*.c kernels/cpu/*.c kernels/cuda/*.c models/*.c datasets/*.c harness/*/*.c)
LIB_SRC  := $(filter-out harness/cli/main.c,$(LIB_SRC))
CUDA_SRC := $(if $(filter 1,$(USE_CUDA)),$(wildcard kernels/cuda/*.cu),)
TEST_SRC := $(wildcard tests/test_*.c) $(wildcard tests/fuzz/fuzz_*.c)
# The report templates, embedded as a generated source (harness/report/templates.h).
TPL_FILES := $(sort $(filter-out %~,$(wildcard reports/templates/*)))
TPL_BAD   := $(shell ls reports/templates 2>/dev/null | grep -v -e '^[A-Za-z0-9._-]*$$' -e '~$$')
ifneq ($(TPL_BAD),)
  $(error reports/templates/$(TPL_BAD): a template's file name may hold only A-Z a-z 0-9 . _ -)
endif
TPL_LIST  := $(VARIANT)/gen/report_templates.list
TPL_SRC   := $(VARIANT)/gen/harness/report/templates_embedded.c
TPL_OBJ   := $(TPL_SRC:.c=.o)
LIB_OBJ  := $(LIB_SRC:%.c=$(VARIANT)/%.o) $(CUDA_SRC:%.cu=$(VARIANT)/%.cu.o) $(TPL_OBJ)
TEST_OBJ := $(TEST_SRC:%.c=$(VARIANT)/%.o)
DEPS_STAMP := $(BUILD)/.deps-ok
VERSION_H  := $(VARIANT)/version.h

.PHONY: all test demo bench fixtures test-cuda cuda-checks device-bundle test-slurm clean deps \
        layering format format-check validate validate-twin FORCE fuzz fuzz-build fuzz-deps \
        fuzz-seeds
.DEFAULT_GOAL := all

all: vadbench

deps: $(DEPS_STAMP)
$(DEPS_STAMP): harness/deps.sh
	@sh harness/deps.sh
	@mkdir -p $(BUILD) && touch $@

# version.h changes only when the SHA, dirty flag or build options change.
$(VERSION_H): FORCE | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@sha=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	 dirty=$$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo 1 || echo 0); \
	 opts="CUDA=$(USE_CUDA) SAN=$(SAN) DEBUG=$(DEBUG) CC=$(CC) $$($(CC) -dumpfullversion 2>/dev/null)"; \
	 printf '#define VB_GIT_SHA "%s"\n#define VB_GIT_DIRTY %s\n#define VB_BUILD_OPTS "%s"\n' \
	   "$$sha" "$$dirty" "$$opts" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

# The list of template names changes only when a template is added or removed.
$(TPL_LIST): FORCE
	@mkdir -p $(dir $@)
	@echo '$(notdir $(TPL_FILES))' > $@.tmp; cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(TPL_SRC): $(TPL_FILES) $(TPL_LIST) harness/report/embed_templates.sh
	@mkdir -p $(dir $@)
	@echo '  GEN $@'; sh harness/report/embed_templates.sh $@ $(TPL_FILES)

$(TPL_OBJ): $(TPL_SRC) | $(DEPS_STAMP)
	@echo '  CC  $<'; $(CC) $(CFLAGS_ALL) -c $< -o $@
# Per-path translation units of the CPU backend (kernels/cpu/*_<path>.c) get
# their instruction set's flags; the backend picks a path at run time from the
# CPU's features. -fno-math-errno and -fno-trapping-math let sqrt and selects
# vectorise without changing any value; -Wno-psabi: the 64-byte vector helpers
# are static (no ABI crosses a translation unit).
VEC_FLAGS    := -fno-math-errno -fno-trapping-math -Wno-psabi
ISA_AVX2     := -mavx2 -mfma
ISA_AVX512   := $(ISA_AVX2) -mavx512f -mavx512bw -mavx512dq -mavx512vl -mprefer-vector-width=512
$(VARIANT)/kernels/cpu/%_generic.o: XFLAGS = $(VEC_FLAGS)
$(VARIANT)/kernels/cpu/%_avx2.o: XFLAGS = $(VEC_FLAGS) $(ISA_AVX2)
$(VARIANT)/kernels/cpu/%_avx512.o: XFLAGS = $(VEC_FLAGS) $(ISA_AVX512)

$(VARIANT)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  CC  $<'; $(CC) $(CFLAGS_ALL) $(XFLAGS) -c $< -o $@

$(VARIANT)/%.cu.o: %.cu | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  NVCC $<'; $(NVCC) $(NVCC_FLAGS) -MMD -MP -c $< -o $@

$(VARIANT)/harness/cli/main.o: harness/cli/main.c $(VERSION_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  CC  $<'; $(CC) $(CFLAGS_ALL) -include $(VERSION_H) -c $< -o $@

$(VARIANT)/vadbench: $(LIB_OBJ) $(VARIANT)/harness/cli/main.o
	@echo '  LD  $@'; $(CC) -o $@ $^ $(LDLIBS_ALL)

# ./vadbench is a copy of the variant built last: re-copied whenever it is not
# that variant's binary (after `make SAN=1 test`, a plain `make` puts the
# release binary back even though the SAN copy is newer).
vadbench: $(VARIANT)/vadbench FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(VARIANT)/vbtest: $(LIB_OBJ) $(TEST_OBJ)
	@echo '  LD  $@'; $(CC) -o $@ $^ $(LDLIBS_ALL) $(CRIT_LIBS)

# Checks over the CUDA unit that need nvcc but no GPU: no floating-point
# atomics in the PTX, deprecated APIs only on cu_dnn.cu's allowlist
# (tests/cuda_checks.sh). Rerun only when the CUDA sources change.
CUDA_CHECKS := $(if $(filter 1,$(USE_CUDA)),$(VARIANT)/cuda-checks.ok,)
$(VARIANT)/cuda-checks.ok: $(CUDA_SRC) $(wildcard kernels/cuda/*.h kernels/cuda/*.cuh kernels/*.h) \
                          tests/cuda_checks.sh | $(DEPS_STAMP)
	@mkdir -p $(VARIANT)/cuda-checks
	@sh tests/cuda_checks.sh $(NVCC) $(VARIANT)/cuda-checks && touch $@
cuda-checks: $(CUDA_CHECKS)
	@$(if $(CUDA_CHECKS),true,echo "cuda-checks: skipped (no nvcc and cuDNN: CUDA=$(CUDA))")

# Criterion runs each test in its own process; -j2 keeps CI machines responsive.
# The suite runs kernels in-process, so it sets the short libgomp spin that
# vadbench sets for itself (harness/cli/main.c: the default collapses on
# shared cores).
TEST_ARGS ?= --jobs 2
test: layering format-check vadbench $(VARIANT)/vbtest $(CUDA_CHECKS)
	@mkdir -p tests/tmp
	ASAN_OPTIONS=detect_leaks=0 GOMP_SPINCOUNT=$${GOMP_SPINCOUNT:-1000} $(VARIANT)/vbtest $(TEST_ARGS)
	@echo "vadbench: all tests passed"

# One style (.clang-format, Debian's clang-format 14): `make format` applies it.
CLANG_FORMAT ?= clang-format-14
FMT_FILES = $(shell git ls-files '*.c' '*.h' '*.cu' '*.cuh' 2>/dev/null || find kernels models datasets harness tests -name '*.[ch]' -o -name '*.cu')
format: $(DEPS_STAMP)
	@$(CLANG_FORMAT) -i $(FMT_FILES)
format-check: $(DEPS_STAMP)
	@$(CLANG_FORMAT) --dry-run -Werror $(FMT_FILES) || { echo "format-check: run 'make format' (clang-format 14, .clang-format)" >&2; exit 1; }
	@echo "format-check: ok"

# No include may point back up the data flow (harness/README.md has the map);
# the generated template source is checked as a file of harness/report/.
layering: $(TPL_SRC)
	@sh harness/layering.sh $(TPL_SRC)

# vadbench on a real one-host Slurm (tests/slurm/: started and stopped by the
# script; the Debian packages are installed by deps.sh --slurm). ~1 minute.
test-slurm: vadbench
	@sh harness/deps.sh --slurm
	bash tests/slurm/test-slurm.sh

# ---- fuzzing (tests/fuzz/README.md): libFuzzer targets built with Debian's
# clang 14 under ASan + UBSan; `make test` replays their corpora without them ----
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= experiment safetensors checkpoint archive idx framecache store
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SANFL   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(CSTD) -O2 -g -march=x86-64-v2 -ffp-contract=off $(filter-out -Wno-format-truncation,$(WARN)) -Wno-pass-failed $(FUZZ_SANFL) -fsanitize=fuzzer-no-link -fopenmp -MMD -MP \
                -DVB_VERSION='"$(VERSION)"' -I. $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/tests/fuzz/fuzz_util.o \
                $(FUZZ_DIR)/obj/gen/templates_embedded.o
# the limits a fuzzing run works under: small, so that each input is quick
FUZZ_ENV     := OMP_NUM_THREADS=1 VADBENCH_MAX_MEMBER_MB=16 VADBENCH_MAX_DECODED_GB=0.05 \
                TMPDIR=$(if $(wildcard /dev/shm),/dev/shm,/tmp) \
                ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
FUZZ_ARGS    ?=

# the CPU backend's per-path units get their instruction sets, as in the build
$(FUZZ_DIR)/obj/kernels/cpu/%_generic.o: XFLAGS = $(VEC_FLAGS)
$(FUZZ_DIR)/obj/kernels/cpu/%_avx2.o: XFLAGS = $(VEC_FLAGS) $(ISA_AVX2)
$(FUZZ_DIR)/obj/kernels/cpu/%_avx512.o: XFLAGS = $(VEC_FLAGS) $(ISA_AVX512)

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  FUZZCC $<'; $(FUZZ_CC) $(FUZZ_CFLAGS) $(XFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/gen/templates_embedded.o: $(TPL_SRC) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  FUZZCC $<'; $(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/tests/fuzz/%.target.o: tests/fuzz/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  FUZZCC $< (target)'; $(FUZZ_CC) $(FUZZ_CFLAGS) -DVB_LIBFUZZER -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.target.o $(FUZZ_LIB_OBJ)
	@echo '  FUZZLD $@'; $(FUZZ_CC) -o $@ $^ $(FUZZ_SANFL) -fsanitize=fuzzer -fopenmp $(PKG_LIBS) -lm -lpthread

.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.target.o)

fuzz-deps:
	@sh harness/deps.sh --fuzz

# Regenerate the seed files only the program can make (tests/fuzz/make_seeds.c).
FUZZ_SEED_OBJ = $(VARIANT)/tests/fuzz/make_seeds.o $(VARIANT)/tests/fuzz/fuzz_checkpoint.o \
                $(VARIANT)/tests/fuzz/fuzz_framecache.o $(VARIANT)/tests/fuzz/fuzz_util.o
fuzz-seeds: $(LIB_OBJ) $(FUZZ_SEED_OBJ)
	@$(CC) -o $(VARIANT)/make_seeds $(LIB_OBJ) $(FUZZ_SEED_OBJ) $(LDLIBS_ALL)
	$(VARIANT)/make_seeds tests/fuzz/corpus

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# Each target for FUZZ_SECONDS, one after the other, from the committed seeds;
# new inputs go to build/fuzz/corpus/T, findings to build/fuzz/findings/T.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/findings/$$t; \
	  dict=tests/fuzz/dict/$$t.dict; [ -f $$dict ] && d="-dict=$$dict" || d=""; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  env $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/findings/$$t/ $$d $(FUZZ_ARGS) || exit 1; \
	done

# The CUDA test suites (cuda_*: every op against the CPU, the model, training
# trajectories, determinism, resume). Without a usable GPU they skip; with
# VADBENCH_REQUIRE_CUDA=1 (tests/device/run.sh sets it) a missing GPU fails;
# with VADBENCH_TEST_CUDA_AS_CPU=1 they run the CPU table in the GPU's place,
# a check of the tests themselves on a machine without a GPU.
test-cuda: vadbench $(VARIANT)/vbtest
	@mkdir -p tests/tmp
	$(VARIANT)/vbtest $(TEST_ARGS) --filter='cuda*/*'

# A self-contained folder and archive for the GPU machine (tests/device/bundle.sh):
# binaries, the shared libraries such a machine lacks, fixtures, experiment
# files, the PyTorch twin and tests/device/run.sh, the one command to run there:
#   sh tests/device/run.sh build/device-bundle.tar.xz
BUNDLE := $(BUILD)/device-bundle
device-bundle: $(VARIANT)/vadbench $(VARIANT)/vbtest
	@test "$(USE_CUDA)" = 1 || { echo "device-bundle: needs the CUDA build (nvcc and cuDNN)" >&2; exit 2; }
	@sh tests/device/bundle.sh $(VARIANT) $(BUNDLE)

# The quickstart experiment end to end: train and evaluate every cell (cells already
# done in results/vadbench.db are skipped), then write its report.
demo: vadbench
	./vadbench run experiments/quickstart.yaml
	./vadbench report quickstart
	@echo "vadbench demo: report written to $(CURDIR)/reports/quickstart/report.html"

# vadbench against the PyTorch twin, as ratios (THREADS=2 by default).
THREADS ?= 2
bench: vadbench
	sh harness/bench.sh $(THREADS)

# Does the harness reproduce a published result? Ruff et al.'s one-class Deep SVDD on
# Fashion-MNIST, 10 classes x 3 seeds (experiments/ruff_fmnist.yaml) into
# results/validate.db, then the per-class table against the published mean (hours on 2
# cores; done cells are skipped). validate-twin runs the PyTorch twin on 3 classes.
validate: vadbench
	@sh harness/deps.sh --fmnist
	sh harness/validate.sh run
validate-twin: vadbench
	@sh harness/deps.sh --torch --fmnist
	sh harness/validate.sh twin

# Regenerate the PyTorch fixtures (needs python3-torch; the validity fixtures also
# read Fashion-MNIST).
fixtures: $(DEPS_STAMP)
	@sh harness/deps.sh --torch --fmnist
	$(PYTHON) tests/reference/make_fixtures.py tests/fixtures
	$(PYTHON) tests/reference/make_validity_fixtures.py tests/fixtures_validity
	$(PYTHON) tests/reference/make_train_parity.py tests/fixtures
	$(PYTHON) tests/reference/make_train_fixtures.py tests/fixtures
	$(PYTHON) tests/reference/make_metric_fixtures.py tests/fixtures/metrics.json

clean:
	rm -rf $(BUILD) vadbench tests/tmp

FORCE:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
