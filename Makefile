# vadbench build. Targets: all (./vadbench), test, demo, bench, fixtures, format,
# format-check, layering, fuzz (FUZZ_SECONDS=N, FUZZ_TARGETS="a b"),
# test-cuda, test-slurm, clean. Switches: CUDA=auto|0|1, SAN=1, DEBUG=1, THREADS=N.
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
OPT     := $(if $(filter 1,$(DEBUG)),-O0 -g3,-O2 -g -march=x86-64-v2)
ifeq ($(SAN),1)
  SANFL := -fsanitize=address -fsanitize=undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
  SANFL :=
endif
DEFS    := -DVB_VERSION='"$(VERSION)"' $(if $(filter 1,$(USE_CUDA)),-DVB_HAVE_CUDA,)
CFLAGS_ALL = $(CSTD) $(OPT) $(WARN) $(SANFL) -fopenmp -MMD -MP $(DEFS) -I. $(PKG_CFLAGS)
ifeq ($(USE_CUDA),1)
  CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath=$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
else
  CUDA_LIBS :=
endif
LDLIBS_ALL = $(SANFL) -fopenmp $(PKG_LIBS) -lm -lpthread $(CUDA_LIBS)

# Build-variant directory, so SAN/DEBUG objects never mix with release ones.
VARIANT := $(BUILD)/$(if $(filter 1,$(SAN)),san,$(if $(filter 1,$(DEBUG)),debug,release))$(if $(filter 1,$(USE_CUDA)),-cuda,)

LIB_SRC  := $(wildcard kernels/*.c kernels/cpu/*.c models/*.c datasets/*.c harness/*/*.c)
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

.PHONY: all test demo bench fixtures test-cuda test-slurm clean deps layering format format-check FORCE \
        fuzz fuzz-build fuzz-deps fuzz-seeds
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

$(VARIANT)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  CC  $<'; $(CC) $(CFLAGS_ALL) -c $< -o $@

$(VARIANT)/%.cu.o: %.cu | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  NVCC $<'; $(NVCC) -O2 -std=c++17 -I. -Xcompiler -Wall,-Werror -c $< -o $@

$(VARIANT)/harness/cli/main.o: harness/cli/main.c $(VERSION_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  CC  $<'; $(CC) $(CFLAGS_ALL) -include $(VERSION_H) -c $< -o $@

$(VARIANT)/vadbench: $(LIB_OBJ) $(VARIANT)/harness/cli/main.o
	@echo '  LD  $@'; $(CC) -o $@ $^ $(LDLIBS_ALL)

vadbench: $(VARIANT)/vadbench
	@cp $< $@.tmp && mv -f $@.tmp $@

$(VARIANT)/vbtest: $(LIB_OBJ) $(TEST_OBJ)
	@echo '  LD  $@'; $(CC) -o $@ $^ $(LDLIBS_ALL) $(CRIT_LIBS)

# Criterion runs each test in its own process; -j2 keeps CI machines responsive.
TEST_ARGS ?= --jobs 2
test: layering format-check vadbench $(VARIANT)/vbtest
	@mkdir -p tests/tmp
	ASAN_OPTIONS=detect_leaks=0 $(VARIANT)/vbtest $(TEST_ARGS)
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
FUZZ_CFLAGS   = $(CSTD) -O2 -g $(filter-out -Wno-format-truncation,$(WARN)) -Wno-pass-failed $(FUZZ_SANFL) -fsanitize=fuzzer-no-link -fopenmp \
                -DVB_VERSION='"$(VERSION)"' -I. $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o) $(FUZZ_DIR)/obj/tests/fuzz/fuzz_util.o \
                $(FUZZ_DIR)/obj/gen/templates_embedded.o
# the limits a fuzzing run works under: small, so that each input is quick
FUZZ_ENV     := OMP_NUM_THREADS=1 VADBENCH_MAX_MEMBER_MB=16 VADBENCH_MAX_DECODED_GB=0.05 \
                TMPDIR=$(if $(wildcard /dev/shm),/dev/shm,/tmp) \
                ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
FUZZ_ARGS    ?=

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo '  FUZZCC $<'; $(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

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

test-cuda: vadbench $(VARIANT)/vbtest
	VADBENCH_REQUIRE_CUDA=1 $(VARIANT)/vbtest $(TEST_ARGS) --filter='cuda*/*'

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

# Regenerate the PyTorch fixtures (needs python3-torch; see the script).
fixtures: $(DEPS_STAMP)
	@sh harness/deps.sh --torch
	$(PYTHON) tests/reference/make_fixtures.py tests/fixtures
	$(PYTHON) tests/reference/make_train_parity.py tests/fixtures
	$(PYTHON) tests/reference/make_train_fixtures.py tests/fixtures
	$(PYTHON) tests/reference/make_metric_fixtures.py tests/fixtures/metrics.json

clean:
	rm -rf $(BUILD) vadbench tests/tmp

FORCE:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
