// SystemError: the message is "ATTEMPT: strerror(errno)".
#include "sys/system_error.hh"

namespace badlink {

SystemError::SystemError(std::string_view attempt, int error)
    : std::system_error(error, std::generic_category(), std::string(attempt)), attempt_(attempt) {}

}  // namespace badlink
