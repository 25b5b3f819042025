/* Compiler/platform glue for lwIP on Linux with glibc. */
#ifndef USERNET_ARCH_CC_H
#define USERNET_ARCH_CC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define LWIP_ERRNO_INCLUDE <errno.h>
#define LWIP_RAND() ((u32_t)random())

#ifdef __cplusplus
extern "C" {
#endif
/* Implemented in netstack/lwip_platform.cpp: log through spdlog, then abort. */
void usernet_lwip_assert(const char *message, const char *file, int line);
void usernet_lwip_diag(const char *message);
#ifdef __cplusplus
}
#endif

#define LWIP_PLATFORM_DIAG(x) do { (void)0; } while (0)
#define LWIP_PLATFORM_ASSERT(x) usernet_lwip_assert((x), __FILE__, __LINE__)

#endif
