// SPDX-License-Identifier: MIT
#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace sida::cli {

bool Args::has(const std::string& name) const { return flags_.contains(name) || values_.contains(name); }

std::string Args::get(const std::string& name) const {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    auto it = defaults_.find(name);
    return it == defaults_.end() ? std::string() : it->second;
}

std::optional<std::string> Args::optional(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

int64_t Args::integer(const std::string& name, int64_t min, int64_t max) const {
    const std::string text = get(name);
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE)
        throw UsageError(name + ": '" + text + "' is not an integer");
    if (value < min || value > max)
        throw UsageError(name + ": " + text + " is out of range (" + std::to_string(min) + ".." +
                         std::to_string(max) + ")");
    return value;
}

double Args::number(const std::string& name, double min, double max) const {
    const std::string text = get(name);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value))
        throw UsageError(name + ": '" + text + "' is not a number");
    if (value < min || value > max) {
        std::ostringstream range;
        range << name << ": " << text << " is out of range (" << min << ".." << max << ")";
        throw UsageError(range.str());
    }
    return value;
}

ArgParser::ArgParser(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), description_(std::move(description)) {}

ArgParser& ArgParser::option(std::string name, std::string valueName, std::string help,
                             std::string defaultValue) {
    specs_.push_back(
        {std::move(name), std::move(valueName), std::move(help), std::move(defaultValue), false});
    return *this;
}

ArgParser& ArgParser::flag(std::string name, std::string help) {
    specs_.push_back({std::move(name), {}, std::move(help), {}, true});
    return *this;
}

ArgParser& ArgParser::positionals(std::string usage, std::string help, int min, int max) {
    positionalUsage_ = std::move(usage);
    positionalHelp_ = std::move(help);
    minPositionals_ = min;
    maxPositionals_ = max;
    return *this;
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
    for (const Spec& s : specs_)
        if (s.name == name) return &s;
    return nullptr;
}

std::optional<Args> ArgParser::parse(const std::vector<std::string>& arguments) const {
    Args args;
    for (const Spec& s : specs_)
        if (!s.isFlag) args.defaults_[s.name] = s.defaultValue;
    bool onlyPositionals = false;
    for (size_t i = 0; i < arguments.size(); ++i) {
        const std::string& arg = arguments[i];
        if (onlyPositionals || arg.size() < 2 || arg[0] != '-' || arg == "-") {
            args.positionals_.push_back(arg);
            continue;
        }
        if (arg == "--") {
            onlyPositionals = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            std::cout << help();
            return std::nullopt;
        }
        const size_t equals = arg.find('=');
        const std::string name = arg.substr(0, equals);
        const Spec* spec = find(name);
        if (!spec) throw UsageError("unknown option '" + name + "' for 'sida " + command_ + "'");
        if (spec->isFlag) {
            if (equals != std::string::npos) throw UsageError(name + " takes no value");
            args.flags_.insert(name);
        } else if (equals != std::string::npos) {
            args.values_[name] = arg.substr(equals + 1);
        } else {
            if (i + 1 >= arguments.size())
                throw UsageError(name + " needs a value (" + spec->valueName + ")");
            args.values_[name] = arguments[++i];
        }
    }
    const int count = static_cast<int>(args.positionals_.size());
    if (count < minPositionals_) throw UsageError("'sida " + command_ + "' needs " + positionalUsage_);
    if (maxPositionals_ >= 0 && count > maxPositionals_)
        throw UsageError("'sida " + command_ + "' got an unexpected argument '" +
                         args.positionals_[maxPositionals_] + "'");
    return args;
}

std::string ArgParser::help() const {
    std::ostringstream out;
    out << "usage: sida " << command_ << " " << synopsis_ << "\n\n" << description_ << "\n";
    if (!positionalHelp_.empty()) out << "\n  " << positionalUsage_ << "\n      " << positionalHelp_ << "\n";
    if (!specs_.empty()) out << "\noptions:\n";
    for (const Spec& s : specs_) {
        std::string left = s.name + (s.isFlag ? "" : " " + s.valueName);
        out << "  " << left << "\n      " << s.help;
        if (!s.isFlag && !s.defaultValue.empty()) out << " (default: " << s.defaultValue << ")";
        out << "\n";
    }
    out << "  -h, --help\n      show this help\n";
    return out.str();
}

} // namespace sida::cli
