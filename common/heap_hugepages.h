#pragma once
// Transparent huge pages for the malloc heap.
//
// A rule set of 30,000 rules is ~150 MB of small objects; building it touches ~40,000 4 KiB
// pages, and on a virtual machine each first touch is a costly page fault (a quarter of a
// start from the compile cache). glibc's malloc backs its heap with 2 MiB transparent huge
// pages when told so by the tunable glibc.malloc.hugetlb=1, which it reads only at process
// start. reexec_with_heap_hugepages() therefore re-executes the program once with that
// tunable added, when the kernel offers transparent huge pages ("madvise" or "always" in
// /sys/kernel/mm/transparent_hugepage/enabled). VIGIL_HEAP_HUGEPAGES=0 in the environment
// turns it off; sanitizer builds (their own allocator) never re-execute.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace vigil {

namespace detail {
inline bool thp_available() {
    std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (f == nullptr) {
        return false;
    }
    char buf[128] = {};
    const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    return std::strstr(buf, "[madvise]") != nullptr || std::strstr(buf, "[always]") != nullptr;
}
}  // namespace detail

// Returns when nothing is to be done or the exec failed (the program then runs as before).
inline void reexec_with_heap_hugepages(char** argv) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    (void)argv;
    return;
#else
    const char* off = std::getenv("VIGIL_HEAP_HUGEPAGES");
    if (off != nullptr && std::strcmp(off, "0") == 0) {
        return;
    }
    const char* cur = std::getenv("GLIBC_TUNABLES");
    const std::string tunables = cur != nullptr ? cur : "";
    if (tunables.find("glibc.malloc.hugetlb") != std::string::npos || !detail::thp_available()) {
        return;  // already set (by us or by the operator), or nothing to gain
    }
    const std::string next =
        tunables.empty() ? "glibc.malloc.hugetlb=1" : tunables + ":glibc.malloc.hugetlb=1";
    if (::setenv("GLIBC_TUNABLES", next.c_str(), 1) != 0) {
        return;
    }
    ::execv("/proc/self/exe", argv);
    // exec failed (no /proc): run on without; leave the variable so children do not retry.
#endif
}

}  // namespace vigil
