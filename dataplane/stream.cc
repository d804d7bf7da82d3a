// placeholder: replaced by the TCP reassembly implementation
#include "dataplane/stream.h"
namespace vigil::dataplane {
struct TcpSession {};
void TcpSessionFree::operator()(TcpSession* s) const {
    delete s;
}
StreamEngine::StreamEngine(const StreamConfig& c) : config_(c) {}
StreamEngine::~StreamEngine() = default;
StreamView StreamEngine::process(Flow&, const Packet& pkt) {
    StreamView v;
    v.dir = pkt.dir;
    return v;
}
StreamView StreamEngine::flush(Flow&, FlowDir dir) {
    StreamView v;
    v.dir = dir;
    return v;
}
}  // namespace vigil::dataplane
