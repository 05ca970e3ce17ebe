# locus-mtmd-oracle (mtmd_oracle.cpp): llama.cpp's own multimodal library (tools/mtmd) driving llama.cpp, the
# reference for issue 13's media parity. node-llama-cpp's prebuilt libraries have no mtmd, so its sources are
# compiled here from the source bundle that scripts/setup extracts (.scratch/llama.cpp, the same v0.5.0 release
# as the prebuilt libraries) into a static library linked against those libraries: libllama for the text model,
# libggml for the backend registry, libggml-base for the ggml operations and gguf reader clip.cpp uses.
#
# Included from tests/parity/CMakeLists.txt where the imported targets llama_prebuilt, ggml_prebuilt and
# ggml_base_prebuilt are defined; built only when those exist and the bundle has tools/mtmd.
set(mtmd_dir ${llama_src}/tools/mtmd)
file(GLOB mtmd_models ${mtmd_dir}/models/*.cpp)
if(EXISTS ${mtmd_dir}/mtmd.h AND EXISTS ${mtmd_dir}/mtmd-helper.h AND mtmd_models
   AND EXISTS ${llama_src}/vendor/hash/sha256/sha256.c)
  # clip.cpp's graph-builder switch names every projector, so every models/*.cpp is needed to link. mtmd-helper
  # (the chunk evaluation llama-mtmd-cli and llama-server use) brings the bundle's miniaudio and stb_image
  # headers (decoders it compiles in, unused here) and its sha256 for bitmap ids.
  add_library(llama_mtmd STATIC
    ${mtmd_dir}/mtmd.cpp ${mtmd_dir}/mtmd-audio.cpp ${mtmd_dir}/mtmd-image.cpp ${mtmd_dir}/mtmd-helper.cpp
    ${mtmd_dir}/clip.cpp ${mtmd_models}
    ${llama_src}/vendor/hash/hash.cpp ${llama_src}/vendor/hash/sha256/sha256.c)
  # Third-party code: its own language level, no warnings (-w overrides the project's -Wall -Wextra), and
  # the model files compiled a few to a unit to keep the build short.
  set_target_properties(llama_mtmd PROPERTIES CXX_STANDARD 17 POSITION_INDEPENDENT_CODE ON
    UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 16)
  set_source_files_properties(${mtmd_dir}/clip.cpp ${mtmd_dir}/mtmd.cpp ${mtmd_dir}/mtmd-helper.cpp
    ${llama_src}/vendor/hash/sha256/sha256.c PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
  target_compile_options(llama_mtmd PRIVATE -w)
  target_include_directories(llama_mtmd PRIVATE ${llama_src}/vendor ${llama_src}/vendor/hash)
  target_include_directories(llama_mtmd SYSTEM PUBLIC ${mtmd_dir})
  target_link_libraries(llama_mtmd PUBLIC llama_prebuilt ggml_prebuilt ggml_base_prebuilt Threads::Threads)

  add_executable(locus-mtmd-oracle ${CMAKE_SOURCE_DIR}/tools/oracle/mtmd_oracle.cpp)
  target_link_libraries(locus-mtmd-oracle PRIVATE llama_mtmd nlohmann_json::nlohmann_json)
  # Where the CPU backends (libggml-cpu-*.so) are loaded from unless --backend-dir says otherwise.
  target_compile_definitions(locus-mtmd-oracle PRIVATE LOCUS_LLAMA_BINS="${llama_bins}")
else()
  message(STATUS "oracle: llama.cpp's tools/mtmd sources missing; locus-mtmd-oracle not built")
endif()
