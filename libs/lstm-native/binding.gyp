# Two addons: process_env links neither oneDNN nor OpenMP, so it can set their environment
# before lstm_native (which links both) is loaded. Built by ../../scripts/build-native.mjs.
{
  'target_defaults': {
    'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
    'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-fno-exceptions', '-std=gnu++17'],
    'cflags_cc': ['-std=c++17', '-fexceptions', '-Wall', '-Wextra'],
  },
  'targets': [
    {
      'target_name': 'process_env',
      'sources': ['native/process_env.cc'],
      'libraries': ['-ldl'],
    },
    {
      'target_name': 'lstm_native',
      'sources': ['native/lstm_native.cc'],
      'cflags_cc': ['-fopenmp'],
      'libraries': ['-ldnnl', '-lgomp'],
    },
  ],
}
