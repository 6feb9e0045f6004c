fn main() {
    std::process::exit(authdesk::cli::main());
}
