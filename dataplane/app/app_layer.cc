// placeholder: replaced by the application-layer implementation
#include "dataplane/app/app_layer.h"
namespace vigil::dataplane::app {
struct AppSession {};
void AppSessionFree::operator()(AppSession* s) const {
    delete s;
}
struct AppLayer::Impl {};
AppLayer::AppLayer(const AppConfig& c) : impl_(std::make_unique<Impl>()), config_(c) {}
AppLayer::~AppLayer() = default;
std::span<const AppEvent> AppLayer::on_tcp_data(Flow&, FlowDir, const uint8_t*, uint32_t, bool,
                                                const Packet&) {
    return {};
}
std::span<const AppEvent> AppLayer::on_udp(Flow&, const Packet&) {
    return {};
}
std::span<const AppEvent> AppLayer::on_tcp_close(Flow&, FlowDir, const Packet&) {
    return {};
}
AppProto AppLayer::proto(const Flow& f) const {
    return static_cast<AppProto>(f.app_proto);
}
}  // namespace vigil::dataplane::app
