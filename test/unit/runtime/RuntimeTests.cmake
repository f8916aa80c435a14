# The runtime's unit tests: they link the runtime alone (no MLIR), so both
# the main project (test/unit) and the sanitized runtime project (fuzz/)
# build them from here.
find_package(GTest REQUIRED)
include(GoogleTest)

set(dsv3_runtime_tests_dir ${CMAKE_CURRENT_LIST_DIR})
function(add_dsv3_runtime_tests)
  set(d ${dsv3_runtime_tests_dir})
  add_executable(Dsv3RuntimeTests
    ${d}/AttentionTest.cpp
    ${d}/CheckpointTest.cpp
    ${d}/CudaLaunchTest.cpp
    ${d}/DataTest.cpp
    ${d}/ExecutableLoadTest.cpp
    ${d}/GemmTest.cpp
    ${d}/HfCheckpointTest.cpp
    ${d}/MetricsTest.cpp
    ${d}/SafetensorsTest.cpp
    ${d}/ThreadPoolTest.cpp
    )
  target_link_libraries(Dsv3RuntimeTests PRIVATE dsv3runtime GTest::gtest
    GTest::gtest_main)
  # With the CUDA toolkit's headers, the cuBLASLt descriptors the CUDA
  # backend builds are checked against the real library (no GPU needed).
  if(CUDA_DRIVER_INCLUDE_DIR AND CUBLASLT_INCLUDE_DIR)
    target_sources(Dsv3RuntimeTests PRIVATE ${d}/CudaLtTest.cpp)
    target_include_directories(Dsv3RuntimeTests PRIVATE
      ${CUDA_DRIVER_INCLUDE_DIR} ${CUBLASLT_INCLUDE_DIR})
    target_compile_definitions(Dsv3RuntimeTests PRIVATE DSV3_HAVE_CUDA_HEADERS)
  endif()
  gtest_discover_tests(Dsv3RuntimeTests DISCOVERY_MODE PRE_TEST)
endfunction()
