#pragma once
// Result<T>: the error type returned at component boundaries (config, rules, pcap, outputs).
// A small std::expected stand-in, because g++ 12 only ships <expected> under -std=c++23.

#include <string>
#include <utility>
#include <variant>

namespace vigil {

enum class ErrorCode {
    BadInput,     // user input: usage, config, rules, pcap (exit code 2)
    Io,           // file system / OS failure (exit code 1)
    RuleParse,    // a rule does not parse
    RuleCompile,  // Hyperscan or PCRE2 refused a rule
    Internal,     // a bug (exit code 1)
    Busy,         // refused for now: the state does not allow it (API: 409)
};

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

inline Error make_error(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

}  // namespace vigil
