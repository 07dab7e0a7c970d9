// Runtime CPU dispatch: a function marked AETHER_MULTIVERSION is compiled for
// AVX-512, AVX2 and generic x86-64, and the dynamic loader picks one for the
// CPU it runs on (GCC target_clones, an ifunc). No -march=native needed.
// ThreadSanitizer builds turn it off: ifunc resolvers run during relocation,
// before the TSan runtime is up, and crash there.
#pragma once

#if defined(AETHER_NO_MULTIVERSION)
#define AETHER_MULTIVERSION
#else
#define AETHER_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
