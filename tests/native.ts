// Loads the shim once at import, outside any test, so Deno's resource sanitizer does not see the
// library as opened by (and leaked from) the first test that happens to use it.
import { lib } from "../src/ffi/library.ts";

lib();
