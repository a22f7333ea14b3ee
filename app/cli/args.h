// SPDX-License-Identifier: MIT
// A small command-line parser for the `sida` subcommands: --name VALUE, --name=VALUE, flags,
// positionals, generated --help, and errors that name the option at fault.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace sida::cli {

/// A command line the user must fix; printed with a pointer to --help, exit status 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Args {
public:
    bool has(const std::string& name) const;
    std::string get(const std::string& name) const; ///< the value or the option's default
    std::optional<std::string> optional(const std::string& name) const;
    int64_t integer(const std::string& name, int64_t min, int64_t max) const;
    double number(const std::string& name, double min, double max) const;
    const std::vector<std::string>& positionals() const { return positionals_; }

private:
    friend class ArgParser;
    std::map<std::string, std::string> values_;
    std::map<std::string, std::string> defaults_;
    std::set<std::string> flags_;
    std::vector<std::string> positionals_;
};

class ArgParser {
public:
    ArgParser(std::string command, std::string synopsis, std::string description);
    /// An option taking a value, e.g. option("--device", "D", "compute device", "auto").
    ArgParser& option(std::string name, std::string valueName, std::string help,
                      std::string defaultValue = {});
    ArgParser& flag(std::string name, std::string help);
    /// Documents positional arguments in --help; `min`/`max` bound their count (-1: unbounded).
    ArgParser& positionals(std::string usage, std::string help, int min, int max);
    /// Parses; throws UsageError. Returns nullopt after printing --help.
    std::optional<Args> parse(const std::vector<std::string>& arguments) const;
    std::string help() const;

private:
    struct Spec {
        std::string name, valueName, help, defaultValue;
        bool isFlag;
    };
    const Spec* find(const std::string& name) const;
    std::string command_, synopsis_, description_, positionalUsage_, positionalHelp_;
    int minPositionals_ = 0, maxPositionals_ = 0;
    std::vector<Spec> specs_;
};

} // namespace sida::cli
