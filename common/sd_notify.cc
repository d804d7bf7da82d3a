#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace vigil::systemd {

bool notify(std::string_view state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || *path == '\0') {
        return false;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const size_t len = std::strlen(path);
    if (len >= sizeof(addr.sun_path)) {
        return false;
    }
    std::memcpy(addr.sun_path, path, len);
    if (path[0] == '@') {
        addr.sun_path[0] = '\0';  // abstract namespace
    }
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const auto alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
    const bool ok = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), alen) >= 0;
    ::close(fd);
    return ok;
}

int64_t watchdog_usec() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    const char* usec = std::getenv("WATCHDOG_USEC");
    if (sock == nullptr || *sock == '\0' || usec == nullptr) {
        return 0;
    }
    if (const char* pid = std::getenv("WATCHDOG_PID");
        pid != nullptr && std::strtoll(pid, nullptr, 10) != ::getpid()) {
        return 0;
    }
    const long long v = std::strtoll(usec, nullptr, 10);
    return v > 0 ? v : 0;
}

}  // namespace vigil::systemd
