#pragma once
// CURVE key files for the sensor↔mgmtd transport (`vigilctl keys gen`, DESIGN.md §4, §8):
// NAME.key holds the Z85 secret key (one line, mode 0600), NAME.pub the Z85 public key (0644).

#include <string>

#include "common/result.h"

namespace vigil::mgmt {

inline constexpr size_t kZ85KeyLen = 40;  // a 32-byte CURVE key in Z85

struct KeyPairPaths {
    std::string secret_path;  // DIR/NAME.key
    std::string public_path;  // DIR/NAME.pub
    std::string public_z85;
};

// Generates a keypair (zmq_curve_keypair) and writes DIR/NAME.key and DIR/NAME.pub; DIR is
// created when missing. NAME: 1–64 characters of [A-Za-z0-9._-]. An existing file is an error
// (BadInput) unless `force`, which replaces both files atomically.
Result<KeyPairPaths> generate_key_files(const std::string& dir, const std::string& name,
                                        bool force);

// Reading a key file: read_key_file in common/keyfile.h (the sensor uses it too).

// The public key of a Z85 secret key (zmq_curve_public).
Result<std::string> public_from_secret(const std::string& secret_z85);

}  // namespace vigil::mgmt
