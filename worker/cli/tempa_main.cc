// The `tempa` CLI: hands argv to RunTempa. All work lives in the libraries.
#include <iostream>
#include <string>
#include <vector>

#include "worker/cli/tempa_cli.h"

int main(int argc, char** argv) {
  return tempa::cli::RunTempa(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                              std::cerr);
}
