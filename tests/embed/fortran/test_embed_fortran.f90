! The Fortran module `physml` over the C API: column-major Fortran arrays passed without copies
! in both conventions (shape reversed, row-major; shape as is, column-major) against W x + b
! computed here, online training that reduces the loss, and errors as codes with messages.
!     test_embed_fortran FIXTURE_DIR
program test_embed_fortran
  use iso_c_binding
  use physml
  implicit none
  integer, parameter :: n = 5, nb = 32
  character(len=4096) :: fixtures
  type(c_ptr) :: lin = c_null_ptr, checked = c_null_ptr, mlp = c_null_ptr, trainer = c_null_ptr, none
  real(c_float), target :: x(3, n), y(2, n), xb(n, 3), yb(n, 2), wrong(4, n), bad_out(3, n)
  real(c_double), target :: xd(3, n)
  real(c_float), target :: tx(3, nb), ty(2, nb)
  real(c_double) :: loss, first, last, worst
  integer :: failures, i, j, k, step, status

  failures = 0
  call get_command_argument(1, fixtures)
  call expect(physml_initialize(), PHYSML_OK, "initialize")

  ! ---- inference on linear.pt: x(3, n) is the model's [n, 3] (shape reversed, no copy) ----
  call expect(physml_model_load(trim(fixtures) // "/linear.pt", lin), PHYSML_OK, "load linear.pt")
  do k = 1, n
    do j = 1, 3
      x(j, k) = real(sin(0.5d0 * (3 * (k - 1) + (j - 1)) + 0.1d0), c_float)
    end do
  end do
  call expect(physml_forward(lin, [physml_array_of(x)], [physml_array_of(y)]), PHYSML_OK, "forward")
  worst = 0
  do k = 1, n
    do i = 1, 2
      worst = max(worst, abs(y(i, k) - linear(x(:, k), i)))
    end do
  end do
  call check(worst < 1d-6, "y differs from W x + b")
  print '(a, es10.3)', "fortran inference: max |y - (W x + b)| = ", worst

  ! The other convention: xb(n, 3) as is, column-major (the model's [n, 3] with strides [1, n]).
  xb = transpose(x)
  call expect(physml_forward(lin, [physml_array_of(xb, reverse=.false.)], [physml_array_of(yb, reverse=.false.)]), &
              PHYSML_OK, "column-major forward")
  call check(all(yb == transpose(y)), "column-major result differs from the reversed-shape one")

  ! ---- errors ----
  call expect(physml_forward(lin, [physml_array_of(x)], [physml_array_of(bad_out)]), PHYSML_ERR_SHAPE, &
              "wrong output shape", "has shape [5, 3]")
  call expect(physml_options_set("-flin_input_shape", "-1,3"), PHYSML_OK, "options_set")
  call expect(physml_model_load(trim(fixtures) // "/linear.pt", checked, prefix="flin_"), PHYSML_OK, "load checked")
  wrong = 0
  call expect(physml_forward(checked, [physml_array_of(wrong)], [physml_array_of(y)]), PHYSML_ERR_SHAPE, &
              "wrong input shape", "expects [*, 3]")
  xd = x
  call expect(physml_forward(lin, [physml_array_of(xd)], [physml_array_of(y)]), PHYSML_ERR_DTYPE, &
              "wrong dtype", "expects Float")
  x(2, 3) = ieee_nan()
  call expect(physml_forward(lin, [physml_array_of(x)], [physml_array_of(y)]), PHYSML_ERR_NON_FINITE, &
              "NaN input", "NaN")
  x(2, 3) = 0
  call expect(physml_model_load(trim(fixtures) // "/no_such_model.pt", none), PHYSML_ERR_FILE_NOT_FOUND, &
              "missing file", "does not exist")
  call expect(physml_model_load(trim(fixtures) // "/notmodel.zip", none), PHYSML_ERR_FILE_FORMAT, &
              "file of another kind", "not a TorchScript model")

  ! ---- online training ----
  call expect(physml_model_load(trim(fixtures) // "/mlp.pt", mlp), PHYSML_OK, "load mlp.pt")
  call expect(physml_options_set("-ftest_lr", "0.01"), PHYSML_OK, "options_set lr")
  call expect(physml_trainer_create(mlp, trainer, prefix="ftest_"), PHYSML_OK, "trainer")
  first = 0
  last = 0
  do step = 0, 149
    do k = 1, nb
      do j = 1, 3
        tx(j, k) = real(sin(0.37d0 * (step * nb + k - 1) + 1.3d0 * (j - 1)), c_float)
      end do
      ty(1, k) = sin(2 * tx(1, k)) + 0.5 * tx(2, k) * tx(3, k)
      ty(2, k) = cos(tx(2, k)) - tx(3, k)
    end do
    status = physml_trainer_step(trainer, [physml_array_of(tx)], [physml_array_of(ty)], loss)
    if (status /= PHYSML_OK) call expect(status, PHYSML_OK, "trainer step")
    if (step == 0) first = loss
    last = loss
  end do
  print '(a, es10.3, a, es10.3)', "fortran online training: loss ", first, " -> ", last
  call check(last < 0.2d0 * first, "the loss did not fall enough")

  call expect(physml_trainer_destroy(trainer), PHYSML_OK, "destroy trainer")
  call expect(physml_model_destroy(mlp), PHYSML_OK, "destroy mlp")
  call expect(physml_model_destroy(checked), PHYSML_OK, "destroy checked")
  call expect(physml_model_destroy(lin), PHYSML_OK, "destroy lin")
  call check(.not. c_associated(lin), "destroy sets the handle to NULL")
  status = physml_finalize()
  print '(i0, a)', failures, " failure(s)"
  if (failures /= 0) error stop 1

contains

  real(c_double) function linear(v, i)
    real(c_float), intent(in) :: v(3)
    integer, intent(in) :: i
    integer :: jj
    linear = 0.01d0 * i
    do jj = 1, 3
      linear = linear + (0.1d0 * i - 0.05d0 * (jj - 1)) * v(jj)
    end do
  end function

  real(c_float) function ieee_nan()
    use, intrinsic :: ieee_arithmetic
    ieee_nan = ieee_value(1.0_c_float, ieee_quiet_nan)
  end function

  subroutine check(ok, what)
    logical, intent(in) :: ok
    character(len=*), intent(in) :: what
    if (.not. ok) then
      failures = failures + 1
      print '(a, a)', "FAILED: ", what
    end if
  end subroutine

  subroutine expect(got, want, what, needle)
    integer(c_int), intent(in) :: got, want
    character(len=*), intent(in) :: what
    character(len=*), intent(in), optional :: needle
    character(len=:), allocatable :: message
    if (got /= want) then
      failures = failures + 1
      print '(a, a, a, i0, a, i0, a, a)', "FAILED: ", what, ": status ", got, ", expected ", want, ": ", &
        physml_last_error()
      return
    end if
    if (present(needle)) then
      message = physml_last_error()
      print '(a, a, i0, a, a)', what, " -> status ", got, ": ", message
      if (index(message, needle) == 0) then
        failures = failures + 1
        print '(a, a, a, a)', "FAILED: message lacks ", needle, " in ", what
      end if
    end if
  end subroutine

end program
