#pragma once
// Moves a test process into a network namespace of its own, so that nothing it does to
// nftables, routes or interfaces reaches the host it runs on. Call it before any thread
// exists (namespaces are per thread; the DPDK EAL starts threads of its own). Root gets a
// new network namespace; anyone else a user namespace first, which grants CAP_NET_ADMIN
// over the network namespace created with it.

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace vigil::test {

// Empty on success, else why the process could not be isolated.
inline std::string enter_private_netns() {
    if (unshare(CLONE_NEWNET) == 0) {
        return "";
    }
    const uid_t uid = getuid();
    const gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        return std::string("unshare: ") + std::strerror(errno);
    }
    auto write_file = [](const std::string& path, const std::string& text) {
        std::ofstream f(path);
        f << text;
        return static_cast<bool>(f.flush());
    };
    write_file("/proc/self/setgroups", "deny");
    if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
        return "cannot write the user namespace's id maps";
    }
    return "";
}

}  // namespace vigil::test
