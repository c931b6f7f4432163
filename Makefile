# The two commands of the quick start, and the pieces they are made of.
#   make demo   - a real pytest session pauses (a failure, a checkpoint) and
#                 is resumed through the CLI from a second process
#   make test   - every test: C unit tests, black-box pytest tests
VENV ?= .venv
PY := $(VENV)/bin/python
BUILD ?= build/dev

.PHONY: demo test bootstrap ctest pytest clean

bootstrap:
	@VENV=$(VENV) bash scripts/bootstrap.sh

demo: bootstrap
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) examples/demo.py

ctest: bootstrap
	@cmake -S . -B $(BUILD) -DLP_BUILD_TESTS=ON -DLP_WERROR=ON >/dev/null
	@cmake --build $(BUILD)
	@ctest --test-dir $(BUILD) --output-on-failure

pytest: bootstrap
	@PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest -n 2 tests/python

test: ctest pytest

clean:
	rm -rf build $(VENV)
