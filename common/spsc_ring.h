#pragma once
// SpscRing: a bounded single-producer single-consumer queue (a worker hands records to the
// control thread). Lock-free: the producer owns `head_`, the consumer `tail_`; each side
// caches the other's index to touch the shared cache line only when it must.

#include <atomic>
#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace vigil {

template <typename T>
class SpscRing {
public:
    // Capacity is rounded up to a power of two.
    explicit SpscRing(size_t capacity) {
        size_t c = 2;
        while (c < capacity) {
            c <<= 1;
        }
        slots_.resize(c);
        mask_ = c - 1;
    }
    SpscRing(const SpscRing&) = delete;
    SpscRing& operator=(const SpscRing&) = delete;

    // Producer. False when full (the value is left untouched).
    bool push(T& v) {
        const size_t h = head_.load(std::memory_order_relaxed);
        if (h - tail_cache_ > mask_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (h - tail_cache_ > mask_) {
                return false;
            }
        }
        slots_[h & mask_] = std::move(v);
        head_.store(h + 1, std::memory_order_release);
        return true;
    }

    // Consumer. False when empty.
    bool pop(T& out) {
        const size_t t = tail_.load(std::memory_order_relaxed);
        if (t == head_cache_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (t == head_cache_) {
                return false;
            }
        }
        out = std::move(slots_[t & mask_]);
        tail_.store(t + 1, std::memory_order_release);
        return true;
    }

    size_t capacity() const { return mask_ + 1; }
    // Approximate (either side may move meanwhile).
    size_t size() const {
        return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
    }

private:
    static constexpr size_t kLine = 64;
    std::vector<T> slots_;
    size_t mask_ = 0;
    alignas(kLine) std::atomic<size_t> head_{0};
    size_t tail_cache_ = 0;  // producer's view of tail_
    alignas(kLine) std::atomic<size_t> tail_{0};
    size_t head_cache_ = 0;  // consumer's view of head_
};

}  // namespace vigil
