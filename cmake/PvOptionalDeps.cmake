# SPDX-License-Identifier: MIT
# Detection of the optional external libraries.
#
# For each part X in TPM, CRYPTO, FDT the cache variable PV_WITH_X is AUTO
# (on when the Debian package is installed), ON (required) or OFF. Results:
#   PV_HAVE_X            ON/OFF; also the compile definition PV_HAVE_X=1 and
#                        a #define in the generated <paravisor/config.h>
#   PV_X_LIBRARIES       absolute library paths to append to PV_LINK_LIBS
#   PV_X_INCLUDE_DIRS    include directories (usually empty on Debian)
#   PV_WITH_X            rewritten as a plain ON/OFF variable for subfolders
#   PV_FEATURE_DEFINES   list of the PV_HAVE_X=1 definitions that are on
#
# A subfolder that uses a part guards its sources with if(PV_HAVE_X) and adds
#   set_property(GLOBAL APPEND PROPERTY PV_LINK_LIBS ${PV_X_LIBRARIES})
#   target_include_directories(pv_objects PRIVATE ${PV_X_INCLUDE_DIRS})

set(PV_FEATURE_DEFINES "")

# pv_optional_dep(<PART> <pkg-config module or ""> <header> LIBS <names...>)
function(pv_optional_dep part pcmod header)
  cmake_parse_arguments(D "" "" "LIBS" ${ARGN})
  set(mode "${PV_WITH_${part}}")
  string(TOUPPER "${mode}" mode)
  if(mode STREQUAL "AUTO" OR mode STREQUAL "")
    set(required FALSE)
  elseif(mode)
    set(required TRUE)
  else()
    set(PV_HAVE_${part} OFF PARENT_SCOPE)
    set(PV_WITH_${part} OFF PARENT_SCOPE)
    set(PV_${part}_LIBRARIES "" PARENT_SCOPE)
    set(PV_${part}_INCLUDE_DIRS "" PARENT_SCOPE)
    return()
  endif()

  set(libs "")
  set(incs "")
  set(found FALSE)
  if(pcmod AND PKG_CONFIG_FOUND)
    pkg_check_modules(PV_PC_${part} QUIET ${pcmod})
    if(PV_PC_${part}_FOUND AND PV_PC_${part}_LINK_LIBRARIES)
      set(libs ${PV_PC_${part}_LINK_LIBRARIES})
      set(incs ${PV_PC_${part}_INCLUDE_DIRS})
      set(found TRUE)
    endif()
  endif()
  if(NOT found)
    set(found TRUE)
    foreach(n ${D_LIBS})
      find_library(PV_LIB_${part}_${n} ${n})
      if(PV_LIB_${part}_${n})
        list(APPEND libs ${PV_LIB_${part}_${n}})
      else()
        set(found FALSE)
      endif()
    endforeach()
  endif()
  if(found AND header)
    find_path(PV_INC_${part} ${header})
    if(PV_INC_${part})
      if(NOT PV_INC_${part} STREQUAL "/usr/include")
        list(APPEND incs ${PV_INC_${part}})
      endif()
    else()
      set(found FALSE)
    endif()
  endif()

  if(NOT found AND required)
    message(FATAL_ERROR "PV_WITH_${part}=ON but ${D_LIBS} (${header}) was not found; "
      "install it (scripts/deps.sh) or configure with -DPV_WITH_${part}=OFF")
  endif()
  if(found)
    set(PV_HAVE_${part} ON PARENT_SCOPE)
    set(PV_WITH_${part} ON PARENT_SCOPE)
    set(PV_${part}_LIBRARIES "${libs}" PARENT_SCOPE)
    set(PV_${part}_INCLUDE_DIRS "${incs}" PARENT_SCOPE)
  else()
    message(STATUS "Optional part ${part}: ${D_LIBS} not found, disabled")
    set(PV_HAVE_${part} OFF PARENT_SCOPE)
    set(PV_WITH_${part} OFF PARENT_SCOPE)
    set(PV_${part}_LIBRARIES "" PARENT_SCOPE)
    set(PV_${part}_INCLUDE_DIRS "" PARENT_SCOPE)
  endif()
endfunction()

pv_optional_dep(TPM libtpms libtpms/tpm_library.h LIBS tpms)
# Debian's libmbedtls-dev ships no .pc file; the order matters for static links.
pv_optional_dep(CRYPTO "" mbedtls/version.h LIBS mbedtls mbedx509 mbedcrypto)
pv_optional_dep(FDT "" libfdt.h LIBS fdt)

set(PV_DESC_TPM "the vTPM device (libtpms)")
set(PV_DESC_CRYPTO "attestation crypto (mbedTLS)")
set(PV_DESC_FDT "device-tree parsing (libfdt)")
foreach(part TPM CRYPTO FDT)
  if(PV_HAVE_${part})
    list(APPEND PV_FEATURE_DEFINES PV_HAVE_${part}=1)
    set(PV_CONFIG_HAVE_${part}
      "/** @brief Defined: ${PV_DESC_${part}} is built in. */\n#define PV_HAVE_${part} 1")
  else()
    set(PV_CONFIG_HAVE_${part} "/* PV_HAVE_${part} undefined: ${PV_DESC_${part}} is not built in. */")
  endif()
endforeach()
