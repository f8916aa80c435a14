// RUN: dsv3-opt %s --dsv3-destination-passing -split-input-file -verify-diagnostics

// expected-error @below {{dsv3-destination-passing: a kernel's arguments and results must be statically shaped tensors, got 'tensor<?xf32>'}}
func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}

// -----

// expected-error @below {{dsv3-destination-passing: two results overwrite argument 0}}
func.func @twice(%x: tensor<4xf32>) -> (tensor<4xf32> {dsv3.overwrites = 0 : i64}, tensor<4xf32> {dsv3.overwrites = 0 : i64}) {
  return %x, %x : tensor<4xf32>, tensor<4xf32>
}
