// TIDE_CLONES: compile a function for AVX-512, AVX2+FMA and baseline x86-64, chosen at load time
// (GCC target_clones), so one binary runs at full width on every CPU. Off under ASan (clones and
// the sanitizer's interceptors do not mix) and where TIDE_NO_CLONES is defined.
#pragma once

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define TIDE_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define TIDE_ASAN 1
#endif
#endif

#if defined(__x86_64__) && !defined(TIDE_ASAN) && !defined(TIDE_NO_CLONES)
#define TIDE_HAVE_CLONES 1
#define TIDE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TIDE_CLONES
#endif
