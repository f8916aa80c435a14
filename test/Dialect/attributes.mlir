// RUN: dsv3-opt %s -split-input-file -verify-diagnostics

// The dsv3.* attributes passes exchange are declared and verified by the
// dialect: each must be of its kind, with a value it allows, where it
// belongs; an unknown one is an error.

// expected-error @below {{argument 0: 'dsv3.role' must be one of "param", "opt_state", "batch", "step", "loss", "metric", got "weights"}}
func.func @role(%w: tensor<4xf32> {dsv3.role = "weights"}) {
  return
}

// -----

// expected-error @below {{result 0: 'dsv3.role' must be one of}}
func.func @result_role(%w: tensor<4xf32>) -> (tensor<4xf32> {dsv3.role = 3 : i64}) {
  return %w : tensor<4xf32>
}

// -----

// expected-error @below {{argument 0: 'dsv3.batch' must be one of "tokens", "targets", "positions", "segment_ids", got "images"}}
func.func @batch(%x: tensor<4xi32> {dsv3.batch = "images"}) {
  return
}

// -----

// expected-error @below {{argument 0: 'dsv3.init' must be one of "normal", "ones", "zeros", "constant", got "xavier"}}
func.func @init(%w: tensor<4xf32> {dsv3.init = "xavier"}) {
  return
}

// -----

// expected-error @below {{argument 0: 'dsv3.init_std' must be a positive float}}
func.func @init_std(%w: tensor<4xf32> {dsv3.init = "normal", dsv3.init_std = -0.5 : f64}) {
  return
}

// -----

// expected-error @below {{argument 0: 'dsv3.init_value' must be a finite float}}
func.func @init_value(%w: tensor<f32> {dsv3.init = "constant", dsv3.init_value = 0x7FF0000000000000 : f64}) {
  return
}

// -----

func.func @loss_seed(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @below {{'dsv3.loss_seed' belongs on a dsv3.constant}}
  %y = dsv3.add %x, %x {dsv3.loss_seed} : tensor<f32>
  return %y : tensor<f32>
}

// -----

// expected-error @below {{argument 0: 'dsv3.trainable' must be a bool}}
func.func @trainable(%w: tensor<4xf32> {dsv3.trainable = 0 : i64}) {
  return
}

// -----

// expected-error @below {{argument 0: 'dsv3.name' must be a non-empty string}}
func.func @name(%w: tensor<4xf32> {dsv3.name = ""}) {
  return
}

// -----

// expected-error @below {{argument 0: unknown argument attribute 'dsv3.rol'}}
func.func @misspelt(%w: tensor<4xf32> {dsv3.rol = "param"}) {
  return
}

// -----

// expected-error @below {{result 0: 'dsv3.overwrites' names argument 0 of type 'tensor<8xf32>', the result is 'tensor<4xf32>'}}
func.func @overwrites(%a: tensor<8xf32>, %b: tensor<4xf32>) -> (tensor<4xf32> {dsv3.overwrites = 0 : i64}) {
  return %b : tensor<4xf32>
}

// -----

// expected-error @below {{'dsv3.training' has an unknown key 'learning_rate'}}
module attributes {dsv3.training = {learning_rate = 1.0e-03 : f64}} {
}

// -----

// expected-error @below {{'dsv3.training': 'total_steps' must be an integer}}
module attributes {dsv3.training = {total_steps = 1.0e+03 : f64}} {
}

// -----

// expected-error @below {{'dsv3.model' must be a string}}
module attributes {dsv3.model = 3 : i64} {
}

// -----

module {
  // expected-error @below {{'dsv3.model' belongs on a module}}
  func.func @model() attributes {dsv3.model = "tiny"} {
    return
  }
}

// -----

func.func @offsets(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{'dsv3.offsets' has 2 offsets for 1 results}}
  %b = dsv3.neg %a {dsv3.offsets = array<i64: 0, 64>} : tensor<4xf32>
  return %b : tensor<4xf32>
}

// -----

func.func @donations(%a: tensor<4xf32>) -> tensor<8xf32> {
  // expected-error @below {{'dsv3.donations': result 0 cannot take the buffer of operand 0}}
  %b = func.call @k(%a) {dsv3.donations = array<i64: 0>} : (tensor<4xf32>) -> tensor<8xf32>
  return %b : tensor<8xf32>
}
func.func private @k(tensor<4xf32>) -> tensor<8xf32>

// -----

func.func @arena(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{'dsv3.arena_bytes' belongs on a function}}
  %b = dsv3.neg %a {dsv3.arena_bytes = 64 : i64} : tensor<4xf32>
  return %b : tensor<4xf32>
}

// -----

// expected-error @below {{unknown attribute 'dsv3.offest' (the dsv3.* attributes are listed in the dialect reference)}}
func.func @unknown() attributes {dsv3.offest = 0 : i64} {
  return
}
