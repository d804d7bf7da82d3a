#pragma once
// Whether an address stays on this host: the sensor and vigil-mgmtd refuse plaintext
// (ZeroMQ without CURVE, the API without TLS) anywhere else.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace vigil {

// 127.0.0.0/8, ::1, localhost (brackets around an IPv6 address allowed).
inline bool host_is_loopback(const std::string& host) {
    std::string h = host;
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
        h = h.substr(1, h.size() - 2);
    }
    if (h == "localhost") {
        return true;
    }
    in_addr a4{};
    if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return false;
}

// A ZeroMQ endpoint: ipc:// and inproc:// are local; tcp://HOST:PORT when HOST is loopback
// (tcp://SOURCE;HOST:PORT: the HOST counts).
inline bool endpoint_is_local(const std::string& endpoint) {
    if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) {
        return true;
    }
    if (endpoint.rfind("tcp://", 0) != 0) {
        return false;
    }
    std::string rest = endpoint.substr(6);
    if (const auto semi = rest.find(';'); semi != std::string::npos) {
        rest = rest.substr(semi + 1);
    }
    if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
        rest = rest.substr(0, colon);
    }
    return host_is_loopback(rest);
}

}  // namespace vigil
