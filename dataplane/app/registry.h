#pragma once
// The protocol definitions registry.cc lists (internal to dataplane/app). Adding a protocol:
// its folder defines `const AppProtoDef& x_protocol()`, declared here and listed in
// registry.cc's table (plus its AppProto and BufferId values in buffers.h).

#include "dataplane/app/parser.h"

namespace vigil::dataplane::app {

const AppProtoDef& http_protocol();  // http/
const AppProtoDef& tls_protocol();   // tls/
const AppProtoDef& dns_protocol();   // dns/
const AppProtoDef& ssh_protocol();   // identify_only.cc
const AppProtoDef& smb_protocol();   // identify_only.cc
const AppProtoDef& smtp_protocol();  // identify_only.cc
const AppProtoDef& ftp_protocol();   // identify_only.cc

}  // namespace vigil::dataplane::app
