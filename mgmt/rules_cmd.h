#pragma once
// `vigilctl rules keygen | pack | validate | diff`: rule packs on local files, without mgmtd
// (rules/pack.h, docs/rule-packs.md). vigilctl registers it next to its other commands.

#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace vigil::mgmt {

struct RulesArgs;

class RulesCommand {
public:
    // Adds `rules` and its subcommands to `app`; `version` is this program's (packs made here
    // need at least it; validate checks packs against it).
    RulesCommand(CLI::App& app, std::string version);
    ~RulesCommand();
    RulesCommand(const RulesCommand&) = delete;
    RulesCommand& operator=(const RulesCommand&) = delete;

    // After parsing: whether a `rules` subcommand was given, and running it (the exit code).
    bool selected() const;
    int run() const;

private:
    std::unique_ptr<RulesArgs> a_;
};

}  // namespace vigil::mgmt
