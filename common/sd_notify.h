#pragma once
// systemd's notification protocol (sd_notify(3)) without libsystemd: one datagram to
// $NOTIFY_SOCKET. vigil-mgmtd and vigil-sensor both run as Type=notify units: "READY=1" once
// they serve, "WATCHDOG=1" from the loop whose liveness the unit's WatchdogSec stands for,
// "STOPPING=1" on a clean stop.

#include <cstdint>
#include <string_view>

namespace vigil::systemd {

// Sends `state` when $NOTIFY_SOCKET is set (a path or an abstract "@name"); false when it is
// not set or the send failed. Safe to call from any thread.
bool notify(std::string_view state);

// systemd's WATCHDOG_USEC for this process: 0 when not under systemd, when the unit sets no
// WatchdogSec, or when WATCHDOG_PID names another process.
int64_t watchdog_usec();

}  // namespace vigil::systemd
