# The two commands of the quick start, and the pieces they are made of.
#   make demo   - a real pytest session pauses (a failure, a checkpoint) and
#                 is resumed through the CLI from a second process
#   make test   - every test: the C style check (.clang-format), C unit tests (-Werror), the CLI
#                 black-box tests under ASan+UBSan, fuzz smoke runs, the
#                 benchmark in quick mode, and the black-box pytest tests
VENV ?= .venv
PY := $(VENV)/bin/python
BUILD ?= build
FUZZ_SECONDS ?= 30
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: demo test bootstrap bootstrap-dev ctest asan tsan pytest fuzz-smoke fuzz-long bench bench-smoke clean format format-check

bootstrap:
	@VENV=$(VENV) bash scripts/bootstrap.sh

bootstrap-dev:
	@VENV=$(VENV) LP_WITH_DEV_TOOLS=1 bash scripts/bootstrap.sh

demo: bootstrap
	@$(PY) examples/demo.py

# C unit tests, warnings as errors
ctest: bootstrap-dev
	@cmake -S . -B $(BUILD)/dev -DLP_BUILD_TESTS=ON -DLP_WERROR=ON >/dev/null
	@cmake --build $(BUILD)/dev -j2 >/dev/null
	@ctest --test-dir $(BUILD)/dev --output-on-failure -j2

# the same under AddressSanitizer + UBSan, then the CLI's and the server's
# black-box tests against the sanitized CLI (which execs the sanitized
# server beside it)
asan: bootstrap-dev
	@cmake -S . -B $(BUILD)/asan -DLP_BUILD_TESTS=ON -DLP_WERROR=ON -DLP_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)/asan -j2 >/dev/null
	@ctest --test-dir $(BUILD)/asan --output-on-failure -j2
	@LP_CLI="$(abspath $(BUILD)/asan)/pytest-live-pause" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(PY) -m pytest -q -n 2 -p no:cacheprovider tests/python/test_cli.py tests/python/test_serve_api.py

# the threads stress test (one store shared by many threads) under
# ThreadSanitizer, in its own build directory; then the server's
# black-box tests against a ThreadSanitizer server (its connection
# threads and the event reader share the store, the feed and the table of
# pauses made ready): a race makes it exit 66, which fails its test
tsan: bootstrap-dev
	@cmake -S . -B $(BUILD)/tsan -DLP_BUILD_TESTS=ON -DLP_WERROR=ON -DLP_TSAN=ON >/dev/null
	@cmake --build $(BUILD)/tsan -j2 --target test_threads test_pause test_feed pytest-live-pause \
	  pytest-live-pause-serve >/dev/null
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(BUILD)/tsan/test_threads
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(BUILD)/tsan/test_pause
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(BUILD)/tsan/test_feed
	@LP_CLI="$(abspath $(BUILD)/tsan)/pytest-live-pause" \
	  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:exitcode=66 \
	  $(PY) -m pytest -q -n 2 -p no:cacheprovider tests/python/test_serve_api.py

pytest: bootstrap-dev
	@$(PY) -m pytest -n 2 tests/python

# every libFuzzer harness for FUZZ_SECONDS on its seed corpus (a copy)
fuzz-smoke: bootstrap-dev
	@cmake -S . -B $(BUILD)/fuzz -DLP_BUILD_FUZZERS=ON -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(BUILD)/fuzz -j2 >/dev/null
	@bash scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

fuzz-long:
	@$(MAKE) fuzz-smoke FUZZ_SECONDS=600

bench: bootstrap
	@$(PY) bench/run.py

bench-smoke: bootstrap
	@$(PY) bench/run.py --quick --out $(BUILD)/bench-quick.json
	@$(PY) bench/scenario_serve.py --quick --out $(BUILD)/bench-serve-quick.json >/dev/null

test: format-check ctest asan tsan fuzz-smoke bench-smoke pytest

# the one C style (.clang-format), with the pinned clang-format
format: bootstrap-dev
	@bash scripts/format.sh

format-check: bootstrap-dev
	@bash scripts/format.sh --check

clean:
	rm -rf $(BUILD) $(VENV)
