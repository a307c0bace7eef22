# vadbench build. Targets: all (./vadbench), test, demo, bench, fixtures, format,
# format-check, layering, validate, validate-twin,
# test-cuda, clean. Switches: CUDA=auto|0|1, SAN=1, DEBUG=1, THREADS=N.
# Missing Debian packages are installed by harness/deps.sh (as root) before
# anything is compiled.

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
TEST_SRC := $(wildcard tests/test_*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(VARIANT)/%.o) $(CUDA_SRC:%.cu=$(VARIANT)/%.cu.o)
TEST_OBJ := $(TEST_SRC:%.c=$(VARIANT)/%.o)
DEPS_STAMP := $(BUILD)/.deps-ok
VERSION_H  := $(VARIANT)/version.h

.PHONY: all test demo bench fixtures test-cuda clean deps layering format format-check validate \
	validate-twin FORCE
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

# No include may point back up the data flow (harness/README.md has the map).
layering:
	@sh harness/layering.sh

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
