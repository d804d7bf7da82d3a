// The asn1 keyword's BER decoder (asn1.h). X.690 basic encoding: identifier octets (high tag
// numbers in base 128), definite lengths in short or long form, indefinite lengths for
// constructed encodings ended by an end-of-contents pair.

#include "rules/asn1.h"

namespace vigil::rules {

namespace {

constexpr uint8_t kTagBitString = 3;
constexpr uint8_t kTagReal = 9;

struct Walk {
    const Asn1& a;
    std::span<const uint8_t> buf;
    bool matched = false;

    // The checks on one object (header length `len`, primitive content `content`).
    void check(bool universal, bool constructed, uint32_t tag, uint64_t len,
               std::span<const uint8_t> content) {
        if (a.oversize_length &&
            (len > *a.oversize_length || content.size() > *a.oversize_length)) {
            matched = true;
        }
        if (!universal || constructed || len == 0 || content.empty()) {
            return;
        }
        // Unused bits past the bit string's own length.
        if (a.bitstring_overflow && tag == kTagBitString && content[0] > len * 8) {
            matched = true;
        }
        // A decimal (ISO 6093) encoded real longer than the 256 bytes old decoders assumed.
        if (a.double_overflow && tag == kTagReal && (content[0] & 0xC0) == 0 && len > 256) {
            matched = true;
        }
    }

    // Decodes the object at `pos`; returns its end, or 0 when it does not decode (0 is never
    // a valid end: an object takes at least two bytes).
    size_t object(size_t pos, uint32_t depth) {
        if (depth >= kAsn1MaxDepth || pos + 2 > buf.size()) {
            return 0;
        }
        const uint8_t id = buf[pos++];
        const bool universal = (id >> 6) == 0;
        const bool constructed = (id & 0x20) != 0;
        uint32_t tag = id & 0x1f;
        if (tag == 0x1f) {
            tag = 0;
            for (int n = 0;; ++n) {
                if (pos >= buf.size() || n == 4) {
                    return 0;  // a tag number past 28 bits
                }
                const uint8_t b = buf[pos++];
                tag = tag << 7 | (b & 0x7f);
                if ((b & 0x80) == 0) {
                    break;
                }
            }
        }
        if (pos >= buf.size()) {
            return 0;
        }
        const uint8_t l = buf[pos++];
        if (l == 0x80) {
            if (!constructed) {
                return 0;  // indefinite length needs a constructed encoding
            }
            check(universal, constructed, tag, 0, {});
            // Children until the end-of-contents octets.
            for (;;) {
                if (pos + 2 > buf.size()) {
                    return 0;
                }
                if (buf[pos] == 0 && buf[pos + 1] == 0) {
                    return pos + 2;
                }
                pos = object(pos, depth + 1);
                if (pos == 0) {
                    return 0;
                }
            }
        }
        uint64_t len = l;
        if (l & 0x80) {
            const unsigned n = l & 0x7f;
            if (n > 8 || l == 0xff) {
                return 0;
            }
            len = 0;
            for (unsigned i = 0; i < n; ++i) {
                if (pos >= buf.size()) {
                    return 0;
                }
                len = len << 8 | buf[pos++];
            }
        }
        if (len > buf.size() - pos) {
            return 0;  // the object claims more bytes than there are
        }
        const size_t end = pos + static_cast<size_t>(len);
        if (!constructed) {
            if (universal && tag == kTagBitString && len == 0) {
                return 0;  // a bit string holds at least its unused-bits octet
            }
            check(universal, constructed, tag, len, buf.subspan(pos, end - pos));
            return end;
        }
        check(universal, constructed, tag, len, {});
        while (pos < end) {
            const size_t next = Walk{a, buf.first(end)}.object_into(*this, pos, depth + 1);
            if (next == 0) {
                return 0;
            }
            pos = next;
        }
        return end;
    }

    // Decodes a child with this walk's checks but bounded by the parent's end.
    size_t object_into(Walk& parent, size_t pos, uint32_t depth) {
        const size_t end = object(pos, depth);
        parent.matched = parent.matched || matched;
        return end;
    }
};

}  // namespace

bool asn1_matches(const Asn1& a, std::span<const uint8_t> buf, uint32_t cursor) {
    int64_t offset = 0;
    if (a.absolute_offset) {
        offset = *a.absolute_offset;
    } else if (a.relative_offset) {
        offset = static_cast<int64_t>(cursor) + *a.relative_offset;
        if (offset < 0 || offset > 65535) {
            return false;  // Suricata: the offset must fit in 0..65535
        }
    }
    if (offset >= static_cast<int64_t>(buf.size())) {
        return false;
    }
    const auto data = buf.subspan(static_cast<size_t>(offset));
    bool matched = false;
    size_t pos = 0;
    for (uint32_t frames = 0; pos < data.size(); ++frames) {
        if (frames >= kAsn1MaxFrames) {
            return false;  // Suricata fails the whole decode past asn1-max-frames objects
        }
        Walk w{a, data};
        const size_t end = w.object(pos, 0);
        if (end == 0) {
            break;  // what decoded before still counts
        }
        matched = matched || w.matched;
        pos = end;
    }
    return matched;
}

}  // namespace vigil::rules
