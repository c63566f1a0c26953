// The badlink executable's main(); everything else is in the badlink_cli library.
#include "cli/command.hh"

int main(int argc, char** argv) { return badlink::cli::entry(argc, argv); }
