# The two commands of the README's quick start (each sets up first):
#   make demo   the main job, end to end, on embedded demo data
#   make test   the test suite
# Both run tools/setup_env.sh, which is a no-op in seconds when nothing changed.
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint format clean

setup:
	@bash tools/setup_env.sh

demo: setup
	@$(PY) -m demo $(DEMO_ARGS)

test: setup
	@$(PY) -m pytest tests $(PYTEST_ARGS)

lint: setup
	@$(PY) -m flake8 kdep_mm tools tests configs benchmarks demo
	@$(PY) -m isort --check-only --diff kdep_mm tools tests configs benchmarks demo
	@$(PY) -m yapf --diff --recursive kdep_mm tools tests configs benchmarks demo

format: setup
	@$(PY) -m isort kdep_mm tools tests configs benchmarks demo
	@$(PY) -m yapf -i --recursive kdep_mm tools tests configs benchmarks demo

clean:
	rm -rf work_dirs .pytest_cache
