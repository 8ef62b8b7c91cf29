// A test-only shared library named like a backend module but without the entry point.
extern "C" __attribute__((visibility("default"))) int porta_not_a_backend() { return 42; }
