// placeholder: replaced by the defragmentation implementation
#include "dataplane/defrag.h"
namespace vigil::dataplane {
struct Defragmenter::Impl {};
Defragmenter::Defragmenter(const DefragConfig& c) : impl_(std::make_unique<Impl>()), config_(c) {}
Defragmenter::~Defragmenter() = default;
DefragResult Defragmenter::add(const Packet&) {
    return {};
}
void Defragmenter::clear() {}
}  // namespace vigil::dataplane
