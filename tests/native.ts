// Configures the runtime from the environment (ECN_TORCH_LIB, ECN_NUM_THREADS, ECN_CPU_CACHE,
// ECN_CPU_CACHE_MB, ECN_IMAGE_LIB), as the commands do, then loads the shim once at import,
// outside any test, so Deno's resource sanitizer does not see the library as opened by (and leaked
// from) the first test that happens to use it.
import { configureFromEnv } from "../src/cli/env.ts";
import { lib } from "../src/ffi/library.ts";

configureFromEnv();
lib();
